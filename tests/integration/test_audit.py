"""The audit trail (issue 16, item 3): security and money actions written once, read by a workspace's
admins and by the account they concern, never by anyone else; no email address in an entry; nothing in
the API edits or deletes one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from shared.audit.trail import AUDIT
from shared.ledger.ledger import Ledger
from shared.purchases.disputes import Disputes
from shared.purchases.payments import Purchases
from shared.settings import Settings
from tests.support.helpers import User, assert_error, db, sign_up
from tests.support.ledger import ledger_settings
from tests.support.workspaces import create, invite, join


def trail(client: httpx.Client, user: User, path: str = "/v1/me/audit", **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def actions(body: dict[str, Any]) -> list[str]:
    return [e["action"] for e in body["data"]]


def address() -> dict[str, str]:
    n = uuid.uuid4().int
    return {"X-Forwarded-For": f"203.0.{n % 250}.{(n >> 8) % 250}"}


def test_sign_in_and_api_keys_are_in_my_trail_with_address_and_request(client: httpx.Client) -> None:
    where = address()
    user = sign_up(client, headers=where)
    created = client.post(
        "/v1/api-keys", json={"name": "ci"}, headers={**user.headers, "X-Request-ID": "rq-audit-1"}
    )
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    assert client.delete(f"/v1/api-keys/{key_id}", headers=user.headers).status_code == 204
    body = trail(client, user)
    assert actions(body)[:3] == ["api_key.delete", "api_key.create", "auth.sign_in"]
    delete, create_, sign_in = body["data"][:3]
    assert create_["target"] == delete["target"] == key_id
    assert create_["request_id"] == "rq-audit-1"
    assert sign_in["ip"] == where["X-Forwarded-For"] and sign_in["details"] == {"method": "password"}
    assert all(e["account"] == e["actor"] == user.user_id for e in body["data"])
    assert user.email not in str(body)


def test_workspace_actions_reach_its_admins_and_nobody_else(client: httpx.Client, make_user: Any) -> None:
    owner, member, outsider = make_user(), make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    changed = client.patch(
        f"/v1/workspaces/{ws}/members/{member.user_id}", json={"monthly_limit": 5_000}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    pending = invite(client, owner, ws, f"x{uuid.uuid4().hex[:8]}@example.com")
    assert pending.status_code == 201
    revoked = client.delete(f"/v1/workspaces/{ws}/invitations/{pending.json()['id']}", headers=owner.headers)
    assert revoked.status_code in (200, 204), revoked.text
    path = f"/v1/workspaces/{ws}/audit"
    body = trail(client, owner, path)
    assert actions(body) == [
        "workspace.invite_revoke",
        "workspace.invite",
        "workspace.member_update",
        "workspace.invite_accept",
        "workspace.invite",
        "workspace.create",
    ]
    update = body["data"][2]
    assert update["actor"] == owner.user_id and update["target"] == member.user_id
    assert update["details"]["monthly_limit"] == 5_000
    assert "@" not in str(body)  # invitations name their address nowhere in the trail
    # The member who joined sees it on their own account; a member can't read the workspace's trail.
    assert "workspace.invite_accept" in actions(trail(client, member))
    assert_error(client.get(path, headers=member.headers), 403, "role_required")
    assert_error(client.get(path, headers=outsider.headers), 404, "workspace_not_found")
    assert_error(
        client.get("/v1/workspaces/abcdef0123456789/audit", headers=owner.headers), 404, "workspace_not_found"
    )
    # Filters and paging: one entry a page walks the whole trail once, in order.
    assert actions(trail(client, owner, path, action="workspace.invite")) == ["workspace.invite"] * 2
    assert actions(trail(client, owner, path, actor=member.user_id)) == ["workspace.invite_accept"]
    seen, cursor = [], None
    while True:
        page = trail(client, owner, path, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += actions(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == actions(body)


def test_nothing_edits_or_deletes_an_entry(client: httpx.Client, user: User) -> None:
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = client.request(method, "/v1/me/audit", headers=user.headers)
        assert response.status_code == 405, (method, response.status_code)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"limit": 0}, 422, "invalid_request"),
        ({"limit": 101}, 422, "invalid_request"),
        ({"since": "yesterday"}, 422, "invalid_request"),
        ({"cursor": "not-a-cursor!"}, 400, "invalid_cursor"),
        ({"action": "DROP TABLE"}, 400, "invalid_action"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, 400, "invalid_range"),
    ],
)
def test_bad_filters_are_refused(
    client: httpx.Client, user: User, params: dict[str, Any], status: int, code: str
) -> None:
    response = client.get("/v1/me/audit", params=params, headers=user.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_reading_the_trail_is_rate_limited(client: httpx.Client, settings: Settings) -> None:
    user = sign_up(client, headers=address())
    codes = [
        client.get("/v1/me/audit", params={"limit": 1}, headers=user.headers).status_code for _ in range(80)
    ]
    assert 429 in codes and codes[0] == 200


def test_payments_are_written_once_in_their_own_transaction(settings: Settings) -> None:
    async def run() -> None:
        adb = firestore.AsyncClient(project=settings.gcp_project)
        ledger = Ledger(adb, ledger_settings(hold_ttl_s=900))
        purchases = Purchases(adb, ledger)
        wallet, pid = f"w-{uuid.uuid4().hex}", f"pi_{uuid.uuid4().hex}"
        await asyncio.gather(
            *(purchases.purchase("stripe", pid, wallet, 5_000, 500, "usd") for _ in range(3))
        )
        for _ in range(2):  # a refund delivered twice
            await purchases.claw_back("stripe", pid, "re_1", "refund", 100)
        await purchases.claw_back("stripe", pid, "du_1", "dispute:du_1", 200)
        for _ in range(2):
            await Disputes(purchases, ledger).won("stripe", pid, "du_1")
        query = adb.collection(AUDIT).where(filter=firestore.FieldFilter("account", "==", wallet))
        found = sorted([d.to_dict() async for d in query.stream()], key=lambda d: d["at"])
        assert [d["action"] for d in found] == [
            "payment.granted",
            "payment.clawback",
            "payment.clawback",
            "dispute.won",
        ]
        assert found[0]["details"] == {"credits": 5_000, "paid_minor": 500, "currency": "usd"}
        assert found[1]["details"]["claim"] == "refund" and found[1]["details"]["taken"] == 1_000
        assert found[3]["details"]["credits"] == 2_000
        assert {d["actor"] for d in found} == {"system:stripe"}

    asyncio.run(run())


def test_a_workspace_payment_is_in_the_workspace_trail(
    client: httpx.Client, make_user: Any, settings: Settings
) -> None:
    owner = make_user()
    ws = create(client, owner)["id"]

    async def pay() -> None:
        adb = firestore.AsyncClient(project=settings.gcp_project)
        purchases = Purchases(adb, Ledger(adb, ledger_settings(hold_ttl_s=900)))
        await purchases.purchase("sslcommerz", f"tran-{uuid.uuid4().hex}", f"ws-{ws}~0", 700, 70, "bdt")

    asyncio.run(pay())
    body = trail(client, owner, f"/v1/workspaces/{ws}/audit", action="payment.granted")
    assert len(body["data"]) == 1
    entry = body["data"][0]
    assert entry["workspace_id"] == ws and entry["account"] is None and entry["actor"] == "system:sslcommerz"
    assert db().collection(AUDIT).document(entry["id"]).get().exists
