"""Found by the money simulator: a settle that came after its hold expired left debt on one shard of a
workspace wallet while the other shards still had credits. Reservations that started on another shard
went on spending (the workspace spent credits it owed), and one that started on the indebted shard was
refused with payment_debt although the workspace could pay. Now a workspace's debt is paid from all its
shards before it reserves, as one wallet's would be, and refused only when they cannot pay it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from google.cloud import firestore

from shared.ledger.errors import InsufficientCredits, PaymentDebt
from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import shard_wallets
from tests.support.ledger import check_invariants, ledger_settings
from tests.support.lots import Clock

pytestmark = pytest.mark.anyio


async def indebted_workspace(db: firestore.AsyncClient, clock: Clock) -> tuple[ShardedWallets, str, str]:
    """Two shards of 100 credits; shard 0 then owes 100 after a late settle, shard 1 still has 100."""
    ledger = Ledger(db, ledger_settings(hold_ttl_s=60))
    wallets = ShardedWallets(ledger, home=0, window=0)
    base = "ws-debt-" + uuid.uuid4().hex
    first, second = shard_wallets(base, 2)
    await wallets.grant(base, 2, 200, "g1")
    await ledger.reserve(first, "late", 100, 100)
    clock.advance(dt.timedelta(seconds=120))
    assert await ledger.expire(first, "late")  # the reconciler released it: shard 0 has its 100 again
    await ledger.reserve(first, "spent", 100, 100)  # and spends them
    await ledger.settle(first, "spent", 100)
    late = await wallets.settle(base, 2, "late", 100)  # the first spend's settle arrives late
    assert (late.state, late.charged) == ("expired", 100)
    return wallets, base, second


async def test_a_late_debt_on_one_shard_is_paid_from_the_others_before_spending(
    db: firestore.AsyncClient, clock: Clock
) -> None:
    wallets, base, _ = await indebted_workspace(db, clock)
    # The workspace has 100 on shard 1 and owes 100 on shard 0: it has nothing to spend.
    with pytest.raises(InsufficientCredits):
        await wallets.reserve(base, 2, "next", 50, 1)
    states = [await check_invariants(db, w) for w in shard_wallets(base, 2)]
    assert [(s["available"], s["debt"]) for s in states] == [(0, 0), (0, 0)]  # paid from shard 1
    assert await wallets.find(base, 2, "next") is None


async def test_a_workspace_that_can_pay_its_debt_pays_it_and_spends_the_rest(
    db: firestore.AsyncClient, clock: Clock
) -> None:
    wallets, base, second = await indebted_workspace(db, clock)
    await wallets.ledger.grant(second, 300, "g2")  # shard 1: 400 in all, the workspace owes 100
    hold = await wallets.reserve(base, 2, "next", 1_000, 1)
    assert hold.amount == 300  # what one wallet owing 100 with 400 would give
    states = [await check_invariants(db, w) for w in shard_wallets(base, 2)]
    assert sum(s["debt"] for s in states) == 0
    assert sum(s["available"] for s in states) == 0


async def test_a_workspace_that_cannot_pay_its_debt_is_refused_with_what_it_owes(
    db: firestore.AsyncClient, clock: Clock
) -> None:
    wallets, base, second = await indebted_workspace(db, clock)
    await wallets.ledger.reserve(second, "other", 100, 100)  # shard 1's 100 are held elsewhere
    with pytest.raises(PaymentDebt) as refused:
        await wallets.reserve(base, 2, "next", 50, 1)
    assert refused.value.debt == 100
    await wallets.ledger.void(second, "other")  # released: they pay the debt at the next reservation
    with pytest.raises(InsufficientCredits):
        await wallets.reserve(base, 2, "next", 50, 1)
    states = [await check_invariants(db, w) for w in shard_wallets(base, 2)]
    assert [(s["available"], s["debt"]) for s in states] == [(0, 0), (0, 0)]
