"""Expiring credits in a sharded wallet (Firestore emulator, controlled clock): a grant with an expiry
forms one lot per shard that sums to the grant, and transfers between shards keep credits expiring."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from google.cloud import firestore

from shared.ledger.ledger import Ledger
from shared.ledger.lots import lot_id
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import shard_wallet, shard_wallets
from tests.support.ledger import check_invariants, close_client, ledger_settings
from tests.support.lots import DAY, Clock, hold_drawn, lots_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def ledger(db: firestore.AsyncClient) -> Ledger:
    return Ledger(db, ledger_settings())


@pytest.fixture
def wallets(db: firestore.AsyncClient, ledger: Ledger) -> ShardedWallets:
    return ShardedWallets(ledger, home=0, window=0)


def new_base() -> str:
    return "ws-lots-" + uuid.uuid4().hex


async def test_sharded_grant_with_expiry_sums_right(
    db: firestore.AsyncClient, ledger: Ledger, wallets: ShardedWallets, clock: Clock
) -> None:
    base, ends = new_base(), clock.at + 30 * DAY
    lot = lot_id("subscription", "in_1")
    assert await wallets.grant(base, 4, 1_003, "in_1", kind="subscription", expires_at=ends) == 1_003
    assert await wallets.grant(base, 4, 1_003, "in_1", kind="subscription", expires_at=ends) == 0
    await wallets.grant(base, 4, 40, "top-up")
    parts = [await lots_of(db, w) for w in shard_wallets(base, 4)]
    assert parts == [{lot: (n, ends)} for n in (251, 251, 251, 250)]
    for w in shard_wallets(base, 4):
        await check_invariants(db, w)
    assert (await wallets.balance(base, 4)).available == 1_043

    clock.advance(30 * DAY)
    assert (await wallets.balance(base, 4)).available == 40  # due, before any sweep
    assert sum([await ledger.expire_wallet_lots(w) for w in shard_wallets(base, 4)]) == 4
    states = [await check_invariants(db, w) for w in shard_wallets(base, 4)]
    assert sum(s["expired"] for s in states) == 1_003
    assert sum(s["available"] for s in states) == 40


async def test_transfer_moves_the_soonest_lots_and_keeps_them_expiring(
    db: firestore.AsyncClient, ledger: Ledger, wallets: ShardedWallets, clock: Clock
) -> None:
    base, t0 = new_base(), clock.at
    a, b = shard_wallet(base, 0), shard_wallet(base, 1)
    late, soon = lot_id("grant", "late"), lot_id("grant", "soon")
    await ledger.grant(a, 300, "top-up")
    await ledger.grant(a, 200, "late", expires_at=t0 + 10 * DAY)
    await ledger.grant(a, 100, "soon", expires_at=t0 + 5 * DAY)
    await ledger.grant(b, 20, "late", expires_at=t0 + 10 * DAY)  # the same lot, on the other shard

    assert await wallets.transfer(a, b, 250, "t1") == 250
    assert await wallets.transfer(a, b, 250, "t1") == 250  # a replay moves nothing more
    assert await hold_drawn(db, a, "transfer-t1") == {soon: 100, late: 150}
    assert await lots_of(db, a) == {soon: (0, t0 + 5 * DAY), late: (50, t0 + 10 * DAY)}
    assert await lots_of(db, b) == {soon: (100, t0 + 5 * DAY), late: (170, t0 + 10 * DAY)}
    sa, sb = await check_invariants(db, a), await check_invariants(db, b)
    assert (sa["available"], sb["available"]) == (350, 270)

    clock.advance(5 * DAY)
    assert [b.available for b in await wallets.balances(base, 2)] == [350, 170]
    # A transfer out of a shard whose lot is due expires that lot first and moves only live credits.
    assert await wallets.transfer(b, a, 1_000, "t2") == 170
    assert await lots_of(db, a) == {late: (220, t0 + 10 * DAY)}
    assert await lots_of(db, b) == {late: (0, t0 + 10 * DAY)}
    sa, sb = await check_invariants(db, a), await check_invariants(db, b)
    assert (sa["available"], sb["available"], sb["expired"]) == (520, 0, 100)

    clock.advance(5 * DAY)
    assert (await wallets.balance(base, 2)).available == 300
    held = await wallets.reserve(base, 2, "h", want=400, minimum=1)
    assert held.amount == 300  # only what never expires
    sa = await check_invariants(db, a)
    assert (sa["expired"], sa["reserved"], sa["available"]) == (220, 300, 0)


async def test_concurrent_spenders_while_the_allotment_expires(clock: Clock) -> None:
    """Two instances (own client, ledger and shard window each) spend at once, before and after the
    allotment's expiry, while the lot sweep runs: spending takes the allotment first, what is left of it
    expires once, and after the expiry only the credits that never expire are spent."""
    clients = [firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"]) for _ in range(2)]
    try:
        ledgers = [Ledger(c, ledger_settings()) for c in clients]
        instances = [ShardedWallets(ledgers[i], home=2 * i, window=2) for i, c in enumerate(clients)]
        base, ends = new_base(), clock.at + DAY
        await instances[0].grant(base, 4, 8_000, "in_1", kind="subscription", expires_at=ends)
        await instances[0].grant(base, 4, 2_000, "top-up")

        async def spend(i: int) -> int:
            wallets = instances[i % 2]
            hold = await wallets.reserve(base, 4, f"req-{i}", want=200, minimum=200)
            return (await wallets.settle(base, 4, f"req-{i}", 150, wallet_id=hold.wallet_id)).charged

        assert sum(await asyncio.gather(*(spend(i) for i in range(12)))) == 1_800
        clock.advance(DAY)

        async def sweep(i: int) -> int:
            return await ledgers[i // 2].expire_wallet_lots(shard_wallet(base, i))

        done = await asyncio.gather(*(spend(i) for i in range(12, 20)), *(sweep(k) for k in range(4)))
        assert sum(done[:8]) == 1_200
        states = [await check_invariants(clients[0], w) for w in shard_wallets(base, 4)]
        assert sum(s["expired"] for s in states) == 8_000 - 1_800
        assert sum(s["available"] + s["reserved"] for s in states) == 2_000 - 1_200
        assert [await lots_of(clients[0], w) for w in shard_wallets(base, 4)] == [{}] * 4
        assert await asyncio.gather(*(sweep(k) for k in range(4))) == [0] * 4
    finally:
        for c in clients:
            await close_client(c)
