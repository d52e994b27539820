"""Workspaces over HTTP: create, invite, accept, roles, remove, leave, seats, and cross-workspace access."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from google.cloud import firestore

from tests.support.helpers import User
from tests.support.workspaces import code, create, invite, join

Make = Callable[..., User]


def test_create_get_list(client: httpx.Client, make_user: Make) -> None:
    owner = make_user()
    ws = create(client, owner, " Acme ")
    assert (ws["name"], ws["role"], ws["members"], ws["plan"], ws["seats"]) == ("Acme", "owner", 1, "team", 3)
    assert ws["wallet_id"] == f"ws-{ws['id']}~0"
    assert client.get(f"/v1/workspaces/{ws['id']}", headers=owner.headers).json() == ws
    other = create(client, owner, "Second")
    listed = client.get("/v1/workspaces", headers=owner.headers).json()["data"]
    assert [w["id"] for w in listed] == [ws["id"], other["id"]]
    members = client.get(f"/v1/workspaces/{ws['id']}/members", headers=owner.headers).json()["data"]
    assert [(m["user_id"], m["role"], m["email"]) for m in members] == [(owner.user_id, "owner", owner.email)]
    assert code(client.post("/v1/workspaces", json={"name": "  "}, headers=owner.headers)) == (
        400,
        "invalid_name",
    )


def test_invite_and_accept_once_with_the_invited_email(client: httpx.Client, make_user: Make) -> None:
    owner, invited, stranger = make_user(), make_user(), make_user()
    ws = create(client, owner)["id"]
    sent = invite(client, owner, ws, invited.email.upper())
    assert sent.status_code == 201, sent.text
    token = sent.json()["token"]
    assert (sent.json()["email"], sent.json()["state"]) == (invited.email, "pending")
    accept = "/v1/workspaces/invitations/accept"
    assert code(client.post(accept, json={"token": token}, headers=stranger.headers)) == (
        403,
        "invitation_email_mismatch",
    )
    assert code(client.post(accept, json={"token": token[:-3] + "abc"}, headers=invited.headers)) == (
        400,
        "invalid_invitation",
    )
    joined = client.post(accept, json={"token": token}, headers=invited.headers)
    assert joined.status_code == 200, joined.text
    assert (joined.json()["id"], joined.json()["role"], joined.json()["members"]) == (ws, "member", 2)
    assert code(client.post(accept, json={"token": token}, headers=invited.headers)) == (
        400,
        "invalid_invitation",
    )
    states = client.get(f"/v1/workspaces/{ws}/invitations", headers=owner.headers).json()["data"]
    assert [i["state"] for i in states] == ["accepted"]
    assert code(invite(client, owner, ws, invited.email)) == (409, "already_member")


def test_revoked_invitation_cannot_be_accepted(client: httpx.Client, make_user: Make) -> None:
    owner, invited = make_user(), make_user()
    ws = create(client, owner)["id"]
    sent = invite(client, owner, ws, invited.email).json()
    assert code(invite(client, owner, ws, invited.email)) == (400, "already_invited")
    revoked = client.delete(f"/v1/workspaces/{ws}/invitations/{sent['id']}", headers=owner.headers)
    assert revoked.json()["state"] == "revoked"
    answer = client.post(
        "/v1/workspaces/invitations/accept", json={"token": sent["token"]}, headers=invited.headers
    )
    assert code(answer) == (400, "invalid_invitation")
    assert "revoked" in answer.json()["error"]["message"]
    unknown = client.delete(f"/v1/workspaces/{ws}/invitations/{'0' * 32}", headers=owner.headers)
    assert code(unknown) == (404, "invitation_not_found")


def test_a_non_member_gets_404_for_everything(client: httpx.Client, make_user: Make) -> None:
    owner, outsider = make_user(), make_user()
    ws = create(client, owner)["id"]
    mine = create(client, outsider)["id"]
    h = outsider.headers
    for answer in (
        client.get(f"/v1/workspaces/{ws}", headers=h),
        client.get(f"/v1/workspaces/{ws}/members", headers=h),
        client.get(f"/v1/workspaces/{ws}/wallet", headers=h),
        client.get(f"/v1/workspaces/{ws}/invitations", headers=h),
        invite(client, outsider, ws, "x@example.com"),
        client.patch(f"/v1/workspaces/{ws}/members/{owner.user_id}", json={"role": "member"}, headers=h),
        client.delete(f"/v1/workspaces/{ws}/members/{owner.user_id}", headers=h),
        client.post(f"/v1/workspaces/{ws}/leave", headers=h),
        client.get("/v1/workspaces/does-not-exist", headers=h),
    ):
        assert code(answer) == (404, "workspace_not_found"), answer.text
    # Acting in one's own workspace on a user of another changes nothing there.
    answer = client.delete(f"/v1/workspaces/{mine}/members/{owner.user_id}", headers=h)
    assert code(answer) == (404, "member_not_found")
    assert [w["id"] for w in client.get("/v1/workspaces", headers=h).json()["data"]] == [mine]
    assert client.get(f"/v1/workspaces/{ws}", headers=owner.headers).json()["members"] == 1


def test_roles(client: httpx.Client, make_user: Make) -> None:
    owner, admin, member, later = make_user(), make_user(), make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, admin, "admin")
    join(client, admin, ws, member)
    base = f"/v1/workspaces/{ws}/members"
    # A member reads but changes nothing.
    assert client.get(base, headers=member.headers).status_code == 200
    assert code(invite(client, member, ws, later.email)) == (403, "role_required")
    assert code(client.patch(f"{base}/{admin.user_id}", json={"role": "member"}, headers=member.headers)) == (
        403,
        "role_required",
    )
    assert code(client.delete(f"{base}/{admin.user_id}", headers=member.headers)) == (403, "role_required")
    # An admin sets limits, but neither makes nor removes admins and owners.
    limited = client.patch(f"{base}/{member.user_id}", json={"monthly_limit": 5000}, headers=admin.headers)
    assert limited.json()["monthly_limit"] == 5000
    for body in ({"role": "admin"}, {"role": "owner"}):
        assert code(client.patch(f"{base}/{member.user_id}", json=body, headers=admin.headers)) == (
            403,
            "role_required",
        )
    assert code(client.delete(f"{base}/{owner.user_id}", headers=admin.headers)) == (403, "role_required")
    assert code(invite(client, admin, ws, later.email, "admin")) == (403, "role_required")
    assert code(invite(client, admin, ws, later.email, "owner")) == (422, "invalid_request")
    # The owner does; the last owner cannot step down or leave.
    assert code(client.patch(f"{base}/{owner.user_id}", json={"role": "admin"}, headers=owner.headers)) == (
        409,
        "last_owner",
    )
    assert code(client.post(f"/v1/workspaces/{ws}/leave", headers=owner.headers)) == (409, "last_owner")
    promoted = client.patch(f"{base}/{admin.user_id}", json={"role": "owner"}, headers=owner.headers)
    assert promoted.json()["role"] == "owner"
    assert client.post(f"/v1/workspaces/{ws}/leave", headers=owner.headers).status_code == 204
    assert code(client.get(f"/v1/workspaces/{ws}", headers=owner.headers)) == (404, "workspace_not_found")
    # The remaining owner removes the member; the member is gone.
    assert client.delete(f"{base}/{member.user_id}", headers=admin.headers).status_code == 204
    assert code(client.get(base, headers=member.headers)) == (404, "workspace_not_found")
    left = client.get(base, headers=admin.headers).json()["data"]
    assert [(m["user_id"], m["role"]) for m in left] == [(admin.user_id, "owner")]
    assert client.get(f"/v1/workspaces/{ws}", headers=admin.headers).json()["members"] == 1


def test_seats_limit_members_and_invitations(
    client: httpx.Client, make_user: Make, sync_db: firestore.Client
) -> None:
    owner, a, b, c = make_user(), make_user(), make_user(), make_user()
    created = create(client, owner)
    ws = created["id"]
    join(client, owner, ws, a)
    assert invite(client, owner, ws, b.email).status_code == 201  # 2 members + 1 pending = 3 seats
    full = invite(client, owner, ws, c.email)
    assert code(full) == (409, "seats_exhausted")
    assert "3 seats" in full.json()["error"]["message"]
    # A subscription recorded by the payments for the workspace wallet brings more seats.
    sync_db.collection("subscriptions").document(f"sub_{ws}").set(
        {
            "wallet_id": created["wallet_id"],
            "status": "active",
            "plan": "team",
            "seats": 4,
            "event_created": 1,
        }
    )
    assert client.get(f"/v1/workspaces/{ws}", headers=owner.headers).json()["seats"] == 4
    assert invite(client, owner, ws, c.email).status_code == 201
    assert code(invite(client, owner, ws, "d@example.com")) == (409, "seats_exhausted")


def test_plans_catalog(client: httpx.Client, user: User) -> None:
    plans = {p["name"]: p for p in client.get("/v1/plans").json()["data"]}
    assert set(plans) >= {"free", "pro", "team"}
    team = plans["team"]
    assert team["seat_price_minor"] > 0 and team["monthly_credits"] > 0 and team["max_seats"] > 1
    assert team["limits"]["requests_per_minute"] > plans["free"]["limits"]["requests_per_minute"]
    # The tests' plans file lets the free plan call any model (tests/conftest.py); the shipped free plan's
    # allowlist is checked by tests/integration/test_plan_models.py.
    assert plans["free"]["allowed_models"] == []
    assert plans["team"]["allowed_models"] == []
