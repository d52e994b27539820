"""Members spending a workspace's wallet with `X-Workspace-ID`: chat, jobs, the member's monthly limit,
and callers who are not members. The workspace pays, the member's own wallet does not move, and the usage
record says which shard paid for which feature."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from tests.support.helpers import User, balance, db, grant_credits, rid, usage_for
from tests.support.jobs import IMAGE_PRICE, JobsStack, finished, wait_for_job
from tests.support.workspaces import create, join

Make = Callable[..., User]
CHAT = {"model": "fake-echo", "max_tokens": 5, "messages": [{"role": "user", "content": "hello there"}]}


def fund(settings: Settings, workspace_id: str, amount: int) -> None:
    grant_credits(
        settings, workspace_wallet_base(workspace_id), amount, shards=settings.workspace_wallet_shards
    )


def wallet(client: httpx.Client, user: User, workspace_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/workspaces/{workspace_id}/wallet", headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def settled_wallet(client: httpx.Client, user: User, workspace_id: str) -> dict[str, Any]:
    for _ in range(200):
        view = wallet(client, user, workspace_id)
        if view["reserved"] == 0:
            return view
        asyncio.run(asyncio.sleep(0.05))
    raise AssertionError("the workspace wallet still holds credits")


def as_member(user: User, workspace_id: str, **extra: str) -> dict[str, str]:
    return {**user.headers, "X-Workspace-ID": workspace_id, **extra}


def test_a_member_spends_the_workspace_wallet(
    client: httpx.Client, make_user: Make, settings: Settings
) -> None:
    owner, member = make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    fund(settings, ws, 500_000)
    own_before = balance(client, member.headers)
    request = rid()
    response = client.post("/v1/chat/completions", json=CHAT, headers=as_member(member, ws, **request))
    assert response.status_code == 200, response.text
    record = usage_for(request["X-Request-ID"])
    charged = record["credits"]
    assert charged > 0
    assert record["wallet_id"].startswith(f"ws-{ws}~")
    assert (record["feature"], record["workspace_id"], record["user_id"]) == ("chat", ws, member.user_id)
    # Firestore's TTL policy deletes it after the retention.
    assert record["expire_at"] - record["created_at"] == dt.timedelta(days=settings.usage_retention_days)
    view = settled_wallet(client, member, ws)
    assert view["available"] == 500_000 - charged
    assert view["my_used_this_month"] == charged
    assert balance(client, member.headers) == own_before
    report = client.get("/v1/usage", params={"workspace_id": ws}, headers=owner.headers)
    assert report.status_code == 200, report.text
    assert report.json()["credits"] == charged


def test_an_outsider_naming_a_workspace_gets_404_and_pays_nothing(
    client: httpx.Client, make_user: Make, settings: Settings
) -> None:
    owner, outsider = make_user(), make_user()
    ws = create(client, owner)["id"]
    fund(settings, ws, 100_000)
    before = balance(client, outsider.headers)
    for target in (ws, "no-such-workspace", "../x"):
        response = client.post("/v1/chat/completions", json=CHAT, headers=as_member(outsider, target))
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "workspace_not_found"
    assert balance(client, outsider.headers) == before
    assert wallet(client, owner, ws)["available"] == 100_000


def test_the_member_limit_and_the_workspace_balance_refuse_with_402(
    client: httpx.Client, make_user: Make, settings: Settings
) -> None:
    owner, member = make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    # No credits in the workspace yet: refused, and the member's own credits are not used instead.
    own = balance(client, member.headers)
    empty = client.post("/v1/chat/completions", json=CHAT, headers=as_member(member, ws))
    assert (empty.status_code, empty.json()["error"]["code"]) == (402, "insufficient_credits")
    assert balance(client, member.headers) == own
    fund(settings, ws, 200_000)
    limited = client.patch(
        f"/v1/workspaces/{ws}/members/{member.user_id}", json={"monthly_limit": 1}, headers=owner.headers
    )
    assert limited.status_code == 200, limited.text
    refused = client.post("/v1/chat/completions", json=CHAT, headers=as_member(member, ws))
    assert (refused.status_code, refused.json()["error"]["code"]) == (402, "member_limit_exceeded")
    assert wallet(client, owner, ws)["available"] == 200_000
    # The owner has no limit and still spends.
    ok = client.post("/v1/chat/completions", json=CHAT, headers=as_member(owner, ws))
    assert ok.status_code == 200, ok.text


def test_a_job_is_charged_to_the_workspace(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User], settings: Settings
) -> None:
    owner, member = jobs_user(), jobs_user()
    ws = create(jobs_client, owner)["id"]
    join(jobs_client, owner, ws, member)
    fund(settings, ws, 10 * IMAGE_PRICE)
    own_before = balance(jobs_client, member.headers)
    body = {"type": "image", "input": {"prompt": f"a harbour {uuid.uuid4().hex[:8]}", "n": 1}}
    created = jobs_client.post("/v1/jobs", json=body, headers=as_member(member, ws))
    assert created.status_code == 202, created.text
    done = wait_for_job(jobs_client, member, created.json()["id"], finished)
    assert done["state"] == "succeeded", done
    view = settled_wallet(jobs_client, owner, ws)
    assert view["available"] == 9 * IMAGE_PRICE
    assert balance(jobs_client, member.headers) == own_before
    job_doc = db().collection("jobs").document(done["id"]).get().to_dict() or {}
    assert job_doc["wallet_id"].startswith(f"ws-{ws}~")
    record = db().collection("usage").document(job_doc["hold_id"]).get().to_dict() or {}
    assert (record["feature"], record["credits"], record["user_id"]) == ("image", IMAGE_PRICE, member.user_id)
