"""Who may set a member's monthly limit: admins set members' limits, only owners set admins' and owners',
and nobody changes their own (raising, clearing or lowering it): each refusal is 403 with nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.support.helpers import User
from tests.support.workspaces import code, create, join

Make = Callable[..., User]


def limits(client: httpx.Client, by: User, ws: str) -> dict[str, Any]:
    members = client.get(f"/v1/workspaces/{ws}/members", headers=by.headers).json()["data"]
    return {m["user_id"]: m["monthly_limit"] for m in members}


def test_an_admin_cannot_lift_their_own_limit_nor_touch_admins_and_owners(
    client: httpx.Client, make_user: Make
) -> None:
    owner, admin, other_admin = make_user(), make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, admin, "admin")
    join(client, owner, ws, other_admin, "admin")
    base = f"/v1/workspaces/{ws}/members"
    assert (
        client.patch(f"{base}/{admin.user_id}", json={"monthly_limit": 1000}, headers=owner.headers).json()[
            "monthly_limit"
        ]
        == 1000
    )
    before = limits(client, owner, ws)
    for body in ({"monthly_limit": 10**12}, {"clear_limit": True}, {"monthly_limit": 10}):
        refused = client.patch(f"{base}/{admin.user_id}", json=body, headers=admin.headers)
        assert code(refused) == (403, "cannot_change_own_limit"), refused.text
        assert "own monthly limit" in refused.json()["error"]["message"]
        for target in (owner, other_admin):
            assert code(client.patch(f"{base}/{target.user_id}", json=body, headers=admin.headers)) == (
                403,
                "role_required",
            )
    assert limits(client, owner, ws) == before


def test_an_owner_sets_admins_limits_but_not_their_own(client: httpx.Client, make_user: Make) -> None:
    owner, admin, member = make_user(), make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, admin, "admin")
    join(client, owner, ws, member)
    base = f"/v1/workspaces/{ws}/members"
    assert code(
        client.patch(f"{base}/{owner.user_id}", json={"monthly_limit": 5}, headers=owner.headers)
    ) == (
        403,
        "cannot_change_own_limit",
    )
    changed = client.patch(f"{base}/{admin.user_id}", json={"monthly_limit": 700}, headers=owner.headers)
    assert changed.json()["monthly_limit"] == 700
    # An admin still sets a member's limit.
    changed = client.patch(f"{base}/{member.user_id}", json={"monthly_limit": 300}, headers=admin.headers)
    assert changed.json()["monthly_limit"] == 300
    assert limits(client, owner, ws) == {owner.user_id: None, admin.user_id: 700, member.user_id: 300}


def test_someone_elses_workspace_is_404_and_nothing_changes(client: httpx.Client, make_user: Make) -> None:
    owner, member, stranger = make_user(), make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    create(client, stranger)
    before = limits(client, owner, ws)
    for target in (member, owner, stranger):
        answer = client.patch(
            f"/v1/workspaces/{ws}/members/{target.user_id}",
            json={"clear_limit": True},
            headers=stranger.headers,
        )
        assert code(answer) == (404, "workspace_not_found")
    assert limits(client, owner, ws) == before
