"""File retention per plan (issue 16, item 4): an uploaded file says when it expires (`expires_at`, the
plan's `file_retention_days` after its upload), and the reconciler's sweep then deletes its metadata and
bytes and gives its quota back; files not yet due stay."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx

from shared.bootstrap.functions import build_reconciler
from shared.plans.offers import plan_offers
from shared.settings import Settings
from tests.support.helpers import User, db


def upload(client: httpx.Client, user: User, name: str) -> dict[str, object]:
    answer = client.post(
        "/v1/files",
        files={"file": (name, b"# notes\nkept a while")},
        data={"purpose": "user_data"},
        headers=user.headers,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def sweep(settings: Settings) -> dict[str, int]:
    """The reconciler's whole sweep, as the scheduled function runs it."""

    async def run() -> dict[str, int]:
        reconciler = build_reconciler(settings)
        try:
            return await reconciler.sweep_all()
        finally:
            await reconciler.close()

    return asyncio.run(run())


def test_a_file_expires_after_its_plans_retention(
    client: httpx.Client, user: User, settings: Settings
) -> None:
    days = plan_offers(settings).get("free").file_retention_days
    assert days > 0
    due, kept = upload(client, user, "due.md"), upload(client, user, "kept.md")
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    assert abs(int(str(due["expires_at"])) - expected.timestamp()) < 60
    usage_before = client.get("/v1/files", headers=user.headers).json()["data"]
    assert {f["id"] for f in usage_before} >= {due["id"], kept["id"]}

    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db().collection("files").document(str(due["id"])).update({"expire_at": past})
    assert sweep(settings)["files_expired"] >= 1
    assert client.get(f"/v1/files/{due['id']}", headers=user.headers).status_code == 404
    assert client.get(f"/v1/files/{due['id']}/content", headers=user.headers).status_code == 404
    assert (
        client.get(f"/v1/files/{kept['id']}/content", headers=user.headers).content
        == b"# notes\nkept a while"
    )
    quota = db().collection("file_usage").document(f"user_{user.user_id}").get().to_dict() or {}
    assert quota.get("count") == len(usage_before) - 1
