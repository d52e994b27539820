"""Vector stores under abuse (issue 14): someone else's store or file is a 404 everywhere, bad input is a
400 with nothing written or charged, an oversize body a 413, a flood a 429, and a search before ingestion
finished a clear 409; ingestion jobs cannot be started through POST /v1/jobs."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.jobs.schemas import Job
from shared.settings import Settings
from tests.support.helpers import User, assert_error, balance, db, drain_to, sign_up
from tests.support.knowledge import store_files_of
from tests.support.workspaces import create, join

STORES = "/v1/vector_stores"


def upload(client: httpx.Client, user: User, text: bytes = b"some words to index") -> str:
    files = {"file": ("a.txt", text, "text/plain")}
    response = client.post("/v1/files", files=files, data={"purpose": "assistants"}, headers=user.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def static(size: int, overlap: int) -> dict[str, object]:
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


def stores_of(user: User) -> list[str]:
    mine = FieldFilter("owner", "==", f"user_{user.user_id}")
    query = db().collection("vector_stores").where(filter=mine)
    return [s.id for s in query.stream()]


def test_someone_elses_store_and_files_are_404(client: httpx.Client, user: User) -> None:
    other = sign_up(client)
    store = client.post(STORES, json={"name": "mine"}, headers=user.headers).json()["id"]
    theirs = upload(client, other)
    mine = upload(client, user)
    h = other.headers
    assert_error(client.get(f"{STORES}/{store}", headers=h), 404, "vector_store_not_found")
    assert_error(
        client.post(f"{STORES}/{store}", json={"name": "x"}, headers=h), 404, "vector_store_not_found"
    )
    assert_error(client.delete(f"{STORES}/{store}", headers=h), 404, "vector_store_not_found")
    assert_error(client.get(f"{STORES}/{store}/files", headers=h), 404, "vector_store_not_found")
    search = client.post(f"{STORES}/{store}/search", json={"query": "words"}, headers=h)
    assert_error(search, 404, "vector_store_not_found")
    added = client.post(f"{STORES}/{store}/files", json={"file_id": theirs}, headers=h)
    assert_error(added, 404, "vector_store_not_found")
    # My store, their file: 404 for the file, nothing added.
    added = client.post(f"{STORES}/{store}/files", json={"file_id": theirs}, headers=user.headers)
    assert_error(added, 404, "file_not_found")
    made = client.post(STORES, json={"file_ids": [mine, theirs]}, headers=user.headers)
    assert_error(made, 404, "file_not_found")
    assert stores_of(user) == [store] and store_files_of(store) == []
    assert client.get(STORES, headers=h).json()["data"] == []
    for bad in ("vs_nope", "vs_" + "0" * 32, "../x"):
        assert client.get(f"{STORES}/{bad}", headers=user.headers).status_code == 404
    unknown = client.get(f"{STORES}/{store}/files/file-{'0' * 32}", headers=user.headers)
    assert_error(unknown, 404, "vector_store_file_not_found")


def test_bad_input_is_400_and_changes_nothing(client: httpx.Client, user: User) -> None:
    before = balance(client, user.headers)
    file_id = upload(client, user)
    bad_bodies = [
        {
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0},
            }
        },
        {
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 300},
            }
        },
        {"chunking_strategy": {"type": "static"}},
        {"expires_after": {"anchor": "last_active_at", "days": 0}},
        {"metadata": {f"k{i}": "v" for i in range(17)}},
        {"name": "n" * 300},
        {"file_ids": ["file-x"] * 101},
        {"unknown": 1},
    ]
    for body in bad_bodies:
        assert client.post(STORES, json=body, headers=user.headers).status_code in (400, 422), body
    # A static chunk larger than the embedding model reads (the fake: 50 tokens) is refused by name.
    big = {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 0}}
    too_big = client.post(
        STORES, json={"file_ids": [file_id], "chunking_strategy": big}, headers=user.headers
    )
    assert_error(too_big, 400, "chunk_size_too_large")
    assert stores_of(user) == []
    store = client.post(STORES, json={}, headers=user.headers).json()["id"]
    for body in (
        {"query": ""},
        {"query": "x" * 5000},
        {"query": "a", "max_num_results": 0},
        {"query": "a", "filters": {"type": "near", "key": "a", "value": 1}},
        {"query": "a", "filters": {"type": "and", "filters": []}},
        {"query": "a", "ranking_options": {"score_threshold": 2}},
    ):
        searched = client.post(f"{STORES}/{store}/search", json=body, headers=user.headers)
        assert searched.status_code in (400, 422), body
    attrs = {"file_id": file_id, "attributes": {f"k{i}": 1 for i in range(17)}}
    assert client.post(f"{STORES}/{store}/files", json=attrs, headers=user.headers).status_code == 422
    assert store_files_of(store) == []
    job = {"type": "vector_store_file", "input": {}}
    assert client.post("/v1/jobs", json=job, headers=user.headers).status_code in (400, 422)
    assert balance(client, user.headers) == before


def test_oversize_body_is_413(client: httpx.Client, user: User) -> None:
    huge = {"name": "x", "metadata": {"k": "v" * 2_000_000}}
    assert client.post(STORES, json=huge, headers=user.headers).status_code == 413
    assert stores_of(user) == []


def test_a_search_before_ingestion_finished_is_409(client: httpx.Client, user: User) -> None:
    store = client.post(STORES, json={}, headers=user.headers).json()["id"]
    job_id = uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    running = Job(
        id=job_id,
        type="vector_store_file",
        state="running",
        user_id=user.user_id,
        wallet_id=user.user_id,
        params={},
        steps=2,
        hold_id=f"job:{job_id}",
        reserved=1,
        deadline=now + dt.timedelta(hours=1),
        created_at=now,
        updated_at=now,
    )
    db().collection("jobs").document(job_id).set(running.to_doc())  # only read: no task runs it
    entries = db().collection("vector_stores").document(store).collection("store_files")
    entries.document(f"file-{'1' * 32}").set(
        {"file_id": f"file-{'1' * 32}", "status": "in_progress", "job_id": job_id, "created_at": 1}
    )
    before = balance(client, user.headers)
    response = client.post(f"{STORES}/{store}/search", json={"query": "anything"}, headers=user.headers)
    assert_error(response, 409, "vector_store_not_ready")
    assert balance(client, user.headers) == before
    assert client.get(f"{STORES}/{store}", headers=user.headers).json()["status"] == "in_progress"


def test_workspace_stores_are_the_members(client: httpx.Client) -> None:
    owner, member, outsider = sign_up(client), sign_up(client), sign_up(client)
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    as_ws = {"X-Workspace-ID": ws}
    store = client.post(STORES, json={"name": "team"}, headers={**owner.headers, **as_ws}).json()
    assert store["workspace_id"] == ws
    assert client.get(f"{STORES}/{store['id']}", headers=member.headers).status_code == 200
    listed = client.get(STORES, headers={**member.headers, **as_ws}).json()["data"]
    assert [s["id"] for s in listed] == [store["id"]]
    assert client.get(STORES, headers=member.headers).json()["data"] == []
    assert client.delete(f"{STORES}/{store['id']}", headers=member.headers).status_code == 403
    outsider_get = client.get(f"{STORES}/{store['id']}", headers=outsider.headers)
    assert_error(outsider_get, 404, "vector_store_not_found")
    assert client.delete(f"{STORES}/{store['id']}", headers=owner.headers).json()["deleted"] is True


def test_store_creation_is_rate_limited(client: httpx.Client) -> None:
    user = sign_up(client, headers={"X-Forwarded-For": f"192.0.2.{uuid.uuid4().int % 250}"})
    codes = [client.post(STORES, json={}, headers=user.headers).status_code for _ in range(40)]
    assert codes[0] == 200 and 429 in codes
    assert len(stores_of(user)) == codes.count(200)


def test_a_wallet_that_cannot_pay_leaves_nothing_behind(
    client: httpx.Client, user: User, settings: Settings
) -> None:
    file_id = upload(client, user, b"a file nobody can pay to index " * 20)
    store = client.post(STORES, json={}, headers=user.headers).json()["id"]
    drain_to(settings, user.user_id, leave=1)
    before = balance(client, user.headers)
    added = client.post(f"{STORES}/{store}/files", json={"file_id": file_id}, headers=user.headers)
    assert_error(added, 402, "insufficient_credits")
    assert store_files_of(store) == []
    made = client.post(STORES, json={"file_ids": [file_id]}, headers=user.headers)
    assert_error(made, 402, "insufficient_credits")
    assert stores_of(user) == [store]  # the refused store was removed again
    assert balance(client, user.headers) == before
