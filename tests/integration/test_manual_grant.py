"""Manual grants (issue 16, item 3: "manual grants" in the audit trail): `scripts.grant_credits` grants
once per reference, to a user or a workspace's sharded wallet, and writes `credits.manual_grant` that the
account's owner (or the workspace's admins) read in the audit trail; bad input changes nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from scripts.grant_credits import grant, main
from shared.settings import Settings
from tests.support.helpers import User, balance
from tests.support.workspaces import create


def test_a_user_grant_happens_once_and_is_audited(
    client: httpx.Client, user: User, settings: Settings
) -> None:
    import asyncio

    before = balance(client, user.headers)["available"]
    ref = f"TICKET-{uuid.uuid4().hex[:8]}"
    args = {"credits": 5_000, "ref": ref, "by": "support-bot", "reason": "outage goodwill"}
    assert asyncio.run(grant(settings, user_id=user.user_id, **args)) == 5_000
    assert asyncio.run(grant(settings, user_id=user.user_id, **args)) == 0  # the same ref: nothing more
    assert balance(client, user.headers)["available"] == before + 5_000
    trail = client.get("/v1/me/audit", params={"action": "credits.manual_grant"}, headers=user.headers)
    assert trail.status_code == 200, trail.text
    (entry,) = trail.json()["data"]
    assert entry["actor"] == "support-bot" and entry["details"]["credits"] == 5_000
    assert entry["details"]["ref"] == ref


def test_a_workspace_grant_reaches_its_wallet(
    client: httpx.Client, make_user: object, settings: Settings
) -> None:
    owner = make_user()  # type: ignore[operator]
    ws = create(client, owner)["id"]
    wallet = f"/v1/workspaces/{ws}/wallet"
    before = client.get(wallet, headers=owner.headers).json()["available"]
    ref = f"TICKET-{uuid.uuid4().hex[:8]}"
    argv = ["--workspace", ws, "--credits", "7000", "--ref", ref, "--by", "ops", "--reason", "pilot credit"]
    assert main(argv) == 0
    assert main(argv) == 0
    assert client.get(wallet, headers=owner.headers).json()["available"] == before + 7_000
    trail = client.get(
        f"/v1/workspaces/{ws}/audit", params={"action": "credits.manual_grant"}, headers=owner.headers
    )
    assert trail.status_code == 200 and len(trail.json()["data"]) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--credits", "0", "--ref", "r", "--by", "ops", "--reason", "x"],
        ["--credits", "999999999999", "--ref", "r", "--by", "ops", "--reason", "x"],
        ["--credits", "10", "--ref", " ", "--by", "ops", "--reason", "x"],
    ],
)
def test_bad_input_changes_nothing(client: httpx.Client, user: User, argv: list[str]) -> None:
    before = balance(client, user.headers)
    assert main(["--user", user.user_id, *argv]) == 2
    assert balance(client, user.headers) == before
