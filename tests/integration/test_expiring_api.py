"""Expiring plan credits as users see them: `GET /v1/credits/expiring` for their own wallet, and the
workspace wallet view summing a plan allotment spread over the shards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx

from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from tests.support.helpers import User, grant_credits
from tests.support.workspaces import create

Make = Callable[..., User]


def at(days: int) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)


def test_my_expiring_credits_soonest_first(client: httpx.Client, make_user: Make, settings: Settings) -> None:
    user = make_user()
    assert client.get("/v1/credits/expiring", headers=user.headers).json()["data"] == []
    later, sooner = at(20), at(10)
    grant_credits(settings, user.user_id, 3_000, later)
    grant_credits(settings, user.user_id, 5_000, sooner)
    data = client.get("/v1/credits/expiring", headers=user.headers).json()["data"]
    assert [(d["amount"], dt.datetime.fromisoformat(d["expires_at"])) for d in data] == [
        (5_000, sooner),
        (3_000, later),
    ]
    # The welcome grant never expires and is not listed; the balance counts both.
    assert (
        client.get("/v1/credits", headers=user.headers).json()["available"]
        == settings.welcome_credits + 8_000
    )


def test_a_workspace_allotment_over_the_shards_shows_as_one(
    client: httpx.Client, make_user: Make, settings: Settings
) -> None:
    owner = make_user()
    ws = create(client, owner)["id"]
    ends = at(30)
    grant_credits(
        settings, workspace_wallet_base(ws), 1_600_003, ends, shards=settings.workspace_wallet_shards
    )
    view = client.get(f"/v1/workspaces/{ws}/wallet", headers=owner.headers).json()
    assert view["available"] == 1_600_003
    assert [(e["amount"], dt.datetime.fromisoformat(e["expires_at"])) for e in view["expiring"]] == [
        (1_600_003, ends)
    ]
