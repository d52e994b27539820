"""Vector stores past their `expires_after` (issue 14, item 2) are deleted by the reconciler's sweep, through
the store's own delete path: the store, its files' entries and its chunks go, its files stay; a store not
yet due, or without an expiry, stays; a store whose recorded due time is stale (activity moved it) is put
right instead of deleted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import openai

from tests.integration.test_file_retention import sweep
from tests.support.helpers import User, db
from tests.support.jobs import JobsStack
from tests.support.knowledge import chunks_where, store_files_of, wait_indexed

TEXT = b"Tides rise and fall twice a day as the moon pulls the oceans. " * 20


def test_the_sweep_deletes_expired_stores_with_their_chunks(
    jobs_stack: JobsStack, jobs_user: Callable[[], User]
) -> None:
    user = jobs_user()
    sdk = openai.OpenAI(base_url=f"{jobs_stack.api}/v1", api_key=user.access_token, max_retries=0)
    file = sdk.files.create(file=("tides.txt", TEXT), purpose="assistants")
    due = sdk.vector_stores.create(
        name="due", file_ids=[file.id], expires_after={"anchor": "last_active_at", "days": 1}
    )
    stale = sdk.vector_stores.create(name="stale", expires_after={"anchor": "last_active_at", "days": 1})
    forever = sdk.vector_stores.create(name="forever", file_ids=[file.id])
    wait_indexed(sdk, due.id, 1)
    wait_indexed(sdk, forever.id, 1)
    assert chunks_where("store_id", due.id) and chunks_where("store_id", forever.id)
    stores = db().collection("vector_stores")
    recorded = stores.document(due.id).get().to_dict() or {}
    # Recorded at creation; the ingestion finishing moved last_active_at only (due time: a lower bound).
    assert 0 <= recorded["last_active_at"] + 86_400 - recorded["expire_at"].timestamp() < 60

    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    stores.document(due.id).update(
        {"last_active_at": int(two_days_ago.timestamp()), "expire_at": two_days_ago}
    )
    assert sdk.vector_stores.retrieve(due.id).status == "expired"
    stores.document(stale.id).update({"expire_at": two_days_ago})  # activity moved it; the field lags

    assert sweep(jobs_stack.settings)["vector_stores_expired"] >= 1
    assert not stores.document(due.id).get().exists
    assert chunks_where("store_id", due.id) == [] and store_files_of(due.id) == []
    try:
        sdk.vector_stores.retrieve(due.id)
        raise AssertionError("an expired store is gone")
    except openai.NotFoundError:
        pass
    # The others stay: the stale one with its due time put right, the one without expiry untouched.
    kept = stores.document(stale.id).get().to_dict() or {}
    assert kept["expire_at"].timestamp() == kept["last_active_at"] + 86_400
    assert sdk.vector_stores.retrieve(forever.id).status == "completed"
    assert chunks_where("store_id", forever.id)
    assert sdk.files.retrieve(file.id).id == file.id  # the file itself is not the store's to delete
