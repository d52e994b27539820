"""Vector stores (issue 14, items 2-3, 7) through the official openai SDK, unchanged, on the emulators and
the jobs worker (the Cloud Tasks emulator delivers every ingestion step): create with files, the files'
status, hybrid search with filters, the exact charge (each embedding batch at the fake's reported tokens;
a failing file costs nothing), and deletion taking a file's or a store's text out of search."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import openai
import pytest

from shared.knowledge.keyword_index import decode
from shared.ledger.wallet_ids import workspace_wallet_base
from tests.support.helpers import User, balance, db, grant_credits, sign_up, wait_settled
from tests.support.jobs import JobsStack, hold_of, storage_client
from tests.support.knowledge import (
    chunks_where,
    encrypted,
    ingestion_cost,
    pdf_with,
    query_cost,
    wait_indexed,
)
from tests.support.workspaces import create, join

ORBITS = (
    "Kepler described planetary orbits as ellipses with the sun at one focus. "
    "A planet sweeps equal areas in equal times, so it moves fastest near perihelion. "
) * 6
BREAD = (
    "Sourdough bread rises with a starter of wild yeast and lactobacilli. "
    "Bakers feed the starter flour and water, then proof the dough overnight before baking. "
) * 6


def saved_indexes(stack: JobsStack, store_id: str) -> dict[str, list[tuple[str, str, str]]]:
    """The store's keyword indexes saved in the bucket, by object name, decoded."""
    bucket = storage_client().bucket(stack.settings.jobs_bucket)
    blobs = bucket.list_blobs(prefix=f"vector_stores/{store_id}/keyword/")
    return {b.name: decode(b.download_as_bytes()) for b in blobs}


def sdk_for(stack: JobsStack, user: User) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.api}/v1", api_key=user.access_token, max_retries=0)


def jobs_user_of(client: httpx.Client) -> User:
    return sign_up(client, f"j{uuid.uuid4().hex[:12]}@example.com")


@pytest.fixture
def owner(jobs_user: Callable[[], User]) -> User:
    return jobs_user()


def test_sdk_round_trip(jobs_stack: JobsStack, jobs_client: httpx.Client, owner: User) -> None:
    sdk = sdk_for(jobs_stack, owner)
    orbits = sdk.files.create(file=("orbits.md", ORBITS.encode()), purpose="assistants")
    bread = sdk.files.create(file=("bread.pdf", pdf_with([BREAD])), purpose="assistants")
    before = balance(jobs_client, owner.headers)

    store = sdk.vector_stores.create(name="kb", file_ids=[orbits.id, bread.id], metadata={"team": "x"})
    assert store.id.startswith("vs_") and store.object == "vector_store" and store.name == "kb"
    assert store.file_counts.total == 2 and store.metadata == {"team": "x"}
    store = wait_indexed(sdk, store.id, 2)
    assert store.status == "completed" and store.file_counts.completed == 2 and store.usage_bytes > 0

    listed = sdk.vector_stores.files.list(store.id)
    assert {f.id for f in listed.data} == {orbits.id, bread.id}
    assert all(f.status == "completed" and f.last_error is None for f in listed.data)
    one = sdk.vector_stores.files.retrieve(orbits.id, vector_store_id=store.id)
    assert one.vector_store_id == store.id and one.object == "vector_store.file"

    # The charge: exactly the embedding batches, per file, at the fake's reported tokens.
    orbit_chunks, bread_chunks = chunks_where("file_id", orbits.id), chunks_where("file_id", bread.id)
    assert (
        orbit_chunks
        and bread_chunks
        and all(len(c["embedding"].to_map_value()["value"]) == 16 for c in orbit_chunks)
    )
    spent = ingestion_cost(orbit_chunks) + ingestion_cost(bread_chunks)
    after = wait_settled(jobs_client, owner.headers)
    assert after["available"] == before["available"] - spent

    found = sdk.vector_stores.search(store.id, query="Kepler planetary orbits perihelion")
    assert found.data and found.data[0].file_id == orbits.id and found.data[0].filename == "orbits.md"
    assert "Kepler" in found.data[0].content[0].text and found.data[0].content[0].type == "text"
    assert 0 < found.data[0].score <= 1
    assert found.search_query == ["Kepler planetary orbits perihelion"]
    charged = wait_settled(jobs_client, owner.headers)
    assert charged["available"] == after["available"] - query_cost("Kepler planetary orbits perihelion")

    bread_hits = sdk.vector_stores.search(store.id, query="sourdough starter yeast", max_num_results=2)
    assert len(bread_hits.data) == 2 and bread_hits.data[0].file_id == bread.id

    # rewrite_query: the question's frame is dropped, the page says what was searched, and it is
    # what the query embedding was charged for.
    asked = "Could you tell me about the sourdough starter and its yeast, please?"
    rewritten = sdk.vector_stores.search(store.id, query=asked, rewrite_query=True, max_num_results=2)
    assert rewritten.search_query == ["sourdough starter yeast"]
    assert rewritten.data[0].file_id == bread.id
    before_plain = wait_settled(jobs_client, owner.headers)
    sdk.vector_stores.search(store.id, query=asked, rewrite_query=True, max_num_results=1)
    paid = before_plain["available"] - wait_settled(jobs_client, owner.headers)["available"]
    assert paid == query_cost("sourdough starter yeast")

    # Attributes and filters.
    notes = sdk.files.create(
        file=("notes.txt", b"Tidal locking keeps one face of the moon toward Earth."), purpose="assistants"
    )
    added = sdk.vector_stores.files.create(
        store.id, file_id=notes.id, attributes={"topic": "moon", "year": 2020}
    )
    assert added.status in ("in_progress", "completed") and added.attributes == {
        "topic": "moon",
        "year": 2020,
    }
    wait_indexed(sdk, store.id, 3)
    only = sdk.vector_stores.search(
        store.id, query="moon", filters={"type": "eq", "key": "topic", "value": "moon"}
    )
    assert {hit.file_id for hit in only.data} == {notes.id}
    none = sdk.vector_stores.search(
        store.id, query="moon", filters={"type": "gt", "key": "year", "value": 2021}
    )
    assert none.data == []
    strict = sdk.vector_stores.search(store.id, query="Kepler", ranking_options={"score_threshold": 0.99})
    assert all(hit.score >= 0.99 for hit in strict.data)

    renamed = sdk.vector_stores.update(store.id, name="renamed")
    assert renamed.name == "renamed"
    assert store.id in [s.id for s in sdk.vector_stores.list()]

    # Deleting a file takes its text out of every store at once.
    assert sdk.files.delete(orbits.id).deleted
    assert chunks_where("file_id", orbits.id) == []
    again = sdk.vector_stores.search(store.id, query="Kepler planetary orbits perihelion")
    assert all(hit.file_id != orbits.id and "Kepler" not in hit.content[0].text for hit in again.data)
    saved = saved_indexes(jobs_stack, store.id)  # the search saved the new version's keyword index
    assert saved and all(file_id != orbits.id for chunks in saved.values() for _, file_id, _ in chunks)
    assert orbits.id not in {f.id for f in sdk.vector_stores.files.list(store.id).data}

    # Removing a file from the store: its chunks go, the file stays.
    gone = sdk.vector_stores.files.delete(notes.id, vector_store_id=store.id)
    assert gone.deleted and chunks_where("file_id", notes.id) == []
    assert sdk.files.retrieve(notes.id).id == notes.id

    deleted = sdk.vector_stores.delete(store.id)
    assert deleted.deleted and deleted.object == "vector_store.deleted"
    assert chunks_where("store_id", store.id) == [] and saved_indexes(jobs_stack, store.id) == {}
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.retrieve(store.id)


def test_a_failing_file_ends_failed_and_costs_nothing(
    jobs_stack: JobsStack, jobs_client: httpx.Client, owner: User
) -> None:
    sdk = sdk_for(jobs_stack, owner)
    locked = sdk.files.create(file=("locked.pdf", encrypted(pdf_with(["a secret"]))), purpose="assistants")
    blank = sdk.files.create(file=("blank.pdf", pdf_with([])), purpose="assistants")
    before = balance(jobs_client, owner.headers)
    store = sdk.vector_stores.create(file_ids=[locked.id, blank.id])
    store = wait_indexed(sdk, store.id, 2)
    assert store.file_counts.failed == 2 and store.file_counts.completed == 0
    errors = {f.id: f.last_error for f in sdk.vector_stores.files.list(store.id).data}
    assert errors[locked.id] is not None and errors[locked.id].code == "unsupported_file"
    assert "encrypted" in errors[locked.id].message
    assert errors[blank.id] is not None and errors[blank.id].code == "invalid_file"
    assert chunks_where("store_id", store.id) == []
    assert wait_settled(jobs_client, owner.headers) == before
    for entry in db().collection("vector_stores").document(store.id).collection("store_files").stream():
        assert hold_of(entry.get("job_id"))["state"] == "voided"
    # Nothing finished and nothing running: an empty answer, not an error.
    assert sdk.vector_stores.search(store.id, query="secret").data == []


def test_file_batches(jobs_stack: JobsStack, jobs_client: httpx.Client, owner: User) -> None:
    sdk = sdk_for(jobs_stack, owner)
    store = sdk.vector_stores.create(name="batches")
    batch = sdk.vector_stores.file_batches.upload_and_poll(
        store.id, files=[("orbits.md", ORBITS.encode()), ("bread.txt", BREAD.encode())], poll_interval_ms=200
    )
    assert batch.object == "vector_store.files_batch" and batch.vector_store_id == store.id
    assert batch.status == "completed" and batch.file_counts.completed == batch.file_counts.total == 2
    listed = sdk.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert len(listed.data) == 2 and all(f.status == "completed" for f in listed.data)
    assert sdk.vector_stores.search(store.id, query="sourdough starter").data[0].filename == "bread.txt"

    notes = sdk.files.create(file=("moon.txt", b"The moon is tidally locked to Earth."), purpose="assistants")
    each = sdk.vector_stores.file_batches.create_and_poll(
        store.id, files=[{"file_id": notes.id, "attributes": {"topic": "moon"}}], poll_interval_ms=200
    )
    assert each.file_counts.completed == 1
    only = {"type": "eq", "key": "topic", "value": "moon"}
    hits = sdk.vector_stores.search(store.id, query="moon", filters=only)  # type: ignore[arg-type]
    assert {hit.file_id for hit in hits.data} == {notes.id}
    cancelled = sdk.vector_stores.file_batches.cancel(each.id, vector_store_id=store.id)
    assert cancelled.status == "completed"  # nothing left to cancel

    stranger = sdk_for(jobs_stack, jobs_user_of(jobs_client))
    with pytest.raises(openai.NotFoundError):
        stranger.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.file_batches.retrieve("vsfb_" + "0" * 32, vector_store_id=store.id)
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.file_batches.create(store.id, file_ids=["file-" + "0" * 32])


def test_a_workspace_store_is_paid_by_the_workspace(jobs_stack: JobsStack, jobs_client: httpx.Client) -> None:
    owner, member = jobs_user_of(jobs_client), jobs_user_of(jobs_client)
    ws = create(jobs_client, owner)["id"]
    join(jobs_client, owner, ws, member)
    settings = jobs_stack.settings
    grant_credits(settings, workspace_wallet_base(ws), 500_000, shards=settings.workspace_wallet_shards)
    as_ws = {"X-Workspace-ID": ws}
    team = openai.OpenAI(
        base_url=f"{jobs_stack.api}/v1", api_key=member.access_token, max_retries=0, default_headers=as_ws
    )
    shared = team.files.create(file=("orbits.md", ORBITS.encode()), purpose="assistants")
    mine = balance(jobs_client, member.headers)
    store = team.vector_stores.create(name="team", file_ids=[shared.id])
    assert (store.model_extra or {})["workspace_id"] == ws
    wait_indexed(team, store.id, 1)
    spent = ingestion_cost(chunks_where("file_id", shared.id))
    # The file reads `completed` once its chunks are written; the job's hold settles just after.
    deadline = time.monotonic() + 10
    while True:
        workspace = jobs_client.get(f"/v1/workspaces/{ws}/wallet", headers=owner.headers).json()
        if workspace["reserved"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert workspace["available"] == 500_000 - spent
    assert balance(jobs_client, member.headers) == mine  # the member's own wallet paid nothing
    owner_sdk = sdk_for(jobs_stack, owner)
    assert owner_sdk.vector_stores.search(store.id, query="Kepler orbits").data[0].file_id == shared.id
    assert store.id in [s.id for s in team.vector_stores.list()]
    assert store.id not in [s.id for s in sdk_for(jobs_stack, member).vector_stores.list()]
    # A member's personal file does not go into the workspace's store.
    own = sdk_for(jobs_stack, member).files.create(file=("p.txt", b"private"), purpose="assistants")
    with pytest.raises(openai.NotFoundError):
        team.vector_stores.files.create(store.id, file_id=own.id)
