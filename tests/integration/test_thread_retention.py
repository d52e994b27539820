"""Thread retention per plan (issue 16, item 4): a thread lives `thread_retention_days` after its last
message (the plan's `[plan_billing.*]`), then the reconciler's sweep deletes it with its messages."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
from google.cloud import firestore

from shared.chat.threads import ThreadService
from shared.plans.offers import plan_offers
from shared.settings import Settings
from tests.support.helpers import User, db


def expire_at(thread_id: str) -> dt.datetime | None:
    value = (db().collection("threads").document(thread_id).get().to_dict() or {}).get("expire_at")
    return value if value is None else dt.datetime.fromtimestamp(value.timestamp(), dt.UTC)


def sweep(settings: Settings) -> int:
    async def run() -> int:
        return await ThreadService(firestore.AsyncClient(project=settings.gcp_project)).delete_expired(500)

    return asyncio.run(run())


def test_a_thread_expires_after_its_plans_retention(
    client: httpx.Client, user: User, settings: Settings
) -> None:
    days = plan_offers(settings).get("free").thread_retention_days
    assert days > 0  # the shipped free plan keeps threads for a while, not forever
    created = client.post("/v1/threads", json={"title": "short-lived"}, headers=user.headers).json()["id"]
    first = expire_at(created)
    now = dt.datetime.now(dt.UTC)
    assert first is not None and abs(first - (now + dt.timedelta(days=days))) < dt.timedelta(minutes=1)
    with client.stream(
        "POST",
        f"/v1/threads/{created}/messages",
        json={"content": "hello", "model": "fake-echo", "max_tokens": 3},
        headers=user.headers,
    ) as r:
        assert r.status_code == 200
        list(r.iter_lines())
    later = expire_at(created)
    assert later is not None and later > first  # a new message: counted again from now

    kept = client.post("/v1/threads", json={"title": "kept"}, headers=user.headers).json()["id"]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db().collection("threads").document(created).update({"expire_at": past})
    assert sweep(settings) >= 1
    assert not db().collection("threads").document(created).get().exists
    assert not list(db().collection("threads").document(created).collection("messages").stream())
    assert db().collection("threads").document(kept).get().exists
    assert client.get(f"/v1/threads/{created}", headers=user.headers).status_code == 404
