"""GET /v1/usage over HTTP: a member's own spend, a workspace admin's view, CSV, and date bounds."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import httpx
from google.cloud import firestore

from tests.support.helpers import User
from tests.support.workspaces import code, create, join

Make = Callable[..., User]


def record(
    db: firestore.Client,
    user: User,
    wallet: str,
    model: str,
    credits: int,
    day: dt.date,
    feature: str | None = None,
) -> None:
    at = dt.datetime.combine(day, dt.time(12), dt.UTC)
    doc = {"user_id": user.user_id, "wallet_id": wallet, "model": model, "credits": credits, "created_at": at}
    doc |= {"outcome": "ok", "input_tokens": 10, "output_tokens": 5}
    if feature:
        doc["feature"] = feature
    db.collection("usage").document().set(doc)


def test_usage_by_member_and_workspace(
    client: httpx.Client, make_user: Make, sync_db: firestore.Client
) -> None:
    owner, member = make_user(), make_user()
    ws = create(client, owner)
    join(client, owner, ws["id"], member)
    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    shard1 = f"ws-{ws['id']}~1"
    record(sync_db, member, shard1, "gpt-4o-mini", 300, today)
    record(sync_db, member, shard1, "gpt-4o-mini", 200, yesterday)
    record(sync_db, owner, ws["wallet_id"], "claude-sonnet-4", 1_000, today, feature="images")
    record(sync_db, member, f"user-wallet-{member.user_id}", "smollm2", 7, today)
    record(sync_db, member, shard1, "gpt-4o-mini", 9_999, today - dt.timedelta(days=60))  # out of range

    mine = client.get("/v1/usage", headers=member.headers).json()
    assert (mine["requests"], mine["credits"]) == (3, 507)
    assert {b["key"] for b in mine["by_member"]} == {member.user_id}

    admin = client.get("/v1/usage", params={"workspace_id": ws["id"]}, headers=owner.headers).json()
    assert (admin["scope"], admin["requests"], admin["credits"]) == (f"workspace:{ws['id']}", 3, 1_500)
    assert {b["key"]: b["credits"] for b in admin["by_model"]} == {
        "gpt-4o-mini": 500,
        "claude-sonnet-4": 1_000,
    }
    assert {b["key"]: b["credits"] for b in admin["by_feature"]} == {"chat": 500, "images": 1_000}
    assert {b["key"]: b["credits"] for b in admin["by_member"]} == {member.user_id: 500, owner.user_id: 1_000}
    assert {b["key"]: b["credits"] for b in admin["by_day"]} == {
        yesterday.isoformat(): 200,
        today.isoformat(): 1_300,
    }

    # A member of the workspace sees only their own part of it; a stranger gets 404.
    own = client.get("/v1/usage", params={"workspace_id": ws["id"]}, headers=member.headers).json()
    assert (own["requests"], own["credits"]) == (2, 500)
    stranger = make_user()
    assert code(client.get("/v1/usage", params={"workspace_id": ws["id"]}, headers=stranger.headers)) == (
        404,
        "workspace_not_found",
    )

    answer = client.get(
        "/v1/usage", params={"workspace_id": ws["id"]}, headers=owner.headers | {"Accept": "text/csv"}
    )
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sum(int(r["credits"]) for r in rows) == 1_500
    assert {(r["day"], r["model"], r["requests"]) for r in rows if r["user_id"] == member.user_id} == {
        (yesterday.isoformat(), "gpt-4o-mini", "1"),
        (today.isoformat(), "gpt-4o-mini", "1"),
    }
    assert client.get("/v1/usage", params={"format": "csv"}, headers=member.headers).text.startswith(
        "day,user_id"
    )


def test_usage_date_bounds(client: httpx.Client, user: User) -> None:
    h = user.headers
    assert code(client.get("/v1/usage", params={"start": "2026-02-01", "end": "2026-01-01"}, headers=h)) == (
        400,
        "invalid_range",
    )
    assert code(client.get("/v1/usage", params={"start": "2020-01-01", "end": "2026-01-01"}, headers=h)) == (
        400,
        "range_too_long",
    )
    assert code(client.get("/v1/usage", params={"start": "yesterday"}, headers=h)) == (422, "invalid_request")
    empty = client.get("/v1/usage", params={"start": "2026-01-01", "end": "2026-01-31"}, headers=h).json()
    assert (empty["requests"], empty["credits"], empty["by_day"]) == (0, 0, [])
