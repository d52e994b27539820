"""Members spending a workspace wallet within monthly limits, and invitation expiry, on the emulator
with an injected clock."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from google.cloud import firestore

from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.plans.offers import plan_offers
from shared.purchases.repository import BillingRepository
from shared.spending.members import WorkspaceSpending
from shared.workspaces.errors import InvalidInvitation, MemberLimitExceeded, SeatsFull, WorkspaceNotFound
from shared.workspaces.invitations import Invitations
from shared.workspaces.invite_tokens import InviteTokens
from shared.workspaces.service import WorkspaceService
from tests.support.ledger import check_invariants, ledger_settings
from tests.support.workspaces import add_member

pytestmark = pytest.mark.anyio

SHARDS = 4


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(db: firestore.AsyncClient, clock: Clock) -> WorkspaceService:
    # team: three seats without a subscription (a new workspace's default plan, free, has one)
    settings = ledger_settings(workspace_wallet_shards=SHARDS, workspace_default_plan="team")
    return WorkspaceService(db, settings, plan_offers(settings), BillingRepository(db), clock=clock)


async def test_member_monthly_limit(
    db: firestore.AsyncClient, service: WorkspaceService, clock: Clock
) -> None:
    owner, member = "u-" + uuid.uuid4().hex, "u-" + uuid.uuid4().hex
    ws = (await service.create(owner, f"{owner}@example.com", "Limits")).id
    await add_member(service, ws, member)
    await service.update_member(owner, ws, member, None, 1_000, False)
    wallets = ShardedWallets(Ledger(db, ledger_settings()))
    spending = WorkspaceSpending(db, wallets, clock=clock)
    base = workspace_wallet_base(ws)
    await wallets.grant(base, SHARDS, 100_000, "g")

    first = await spending.reserve(ws, member, "h1", want=800, minimum=100)
    assert first.amount == 800
    clamped = await spending.reserve(ws, member, "h2", want=800, minimum=100)  # clamped to the room left
    assert clamped.amount == 200
    assert (
        await spending.reserve(ws, member, "h2", want=800, minimum=100) == clamped
    )  # a replay counts nothing
    with pytest.raises(MemberLimitExceeded) as refused:
        await spending.reserve(ws, member, "h3", want=50, minimum=1)
    assert (refused.value.status, refused.value.code, refused.value.used) == (
        402,
        "member_limit_exceeded",
        1_000,
    )
    assert await spending.used(ws, member) == 1_000

    await spending.settle(ws, "h1", 300)  # 500 of the hold comes back under the limit
    await spending.settle(ws, "h1", 300)  # once
    await spending.void(ws, "h2")
    assert await spending.used(ws, member) == 300
    assert (await spending.reserve(ws, member, "h4", want=5_000, minimum=1)).amount == 700

    clock.at += dt.timedelta(days=5)  # December: a new month, a fresh count
    assert (await spending.reserve(ws, member, "h5", want=900, minimum=900)).amount == 900
    assert await spending.used(ws, member) == 900

    # The owner has no limit; a stranger cannot spend at all.
    assert (await spending.reserve(ws, owner, "h6", want=50_000, minimum=1)).amount == 50_000
    with pytest.raises(WorkspaceNotFound):
        await spending.reserve(ws, "u-stranger", "h7", want=1, minimum=1)
    total = 0
    for w in [f"{base}~{k}" for k in range(SHARDS)]:
        state = await check_invariants(db, w)
        total += state["available"] + state["reserved"]
    assert total == 100_000 - 300
    assert (await wallets.balance(base, SHARDS)).reserved == 700 + 900 + 50_000


async def test_invitation_expires(db: firestore.AsyncClient, service: WorkspaceService, clock: Clock) -> None:
    owner = "u-" + uuid.uuid4().hex
    ws = (await service.create(owner, f"{owner}@example.com", "Expiry")).id
    invitations = Invitations(service, InviteTokens("x" * 40, "test"))
    a = await invitations.invite(owner, ws, "a@example.com", "member")
    await invitations.invite(owner, ws, "b@example.com", "member")
    with pytest.raises(SeatsFull):  # 3 seats: the owner and two pending invitations
        await invitations.invite(owner, ws, "c@example.com", "member")
    clock.at += dt.timedelta(seconds=service.settings.workspace_invite_ttl_s + 10)
    with pytest.raises(InvalidInvitation) as expired:
        await invitations.accept("u-a", "a@example.com", a.token, email_verified=True)
    assert "expired" in expired.value.message
    # Expired invitations no longer hold seats.
    assert (await invitations.invite(owner, ws, "c@example.com", "member")).state == "pending"
    with pytest.raises(InvalidInvitation):  # signed with another key
        await Invitations(service, InviteTokens("y" * 40, "test")).accept(
            "u-a", "a@example.com", a.token, email_verified=True
        )
