"""The sharded wallet on the Firestore emulator: transfers keep every shard's ledger invariants, the
balance is the sum of the shards, reservations spread and consolidate, and concurrent spenders from
several instances neither overspend nor stall."""

from __future__ import annotations

import uuid

import pytest
from google.cloud import firestore

from shared.errors import BadRequest
from shared.ledger.errors import InsufficientCredits
from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets, start_shard
from shared.ledger.wallet_ids import shard_wallet, shard_wallets
from tests.support.ledger import check_invariants, ledger_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def wallets(db: firestore.AsyncClient) -> ShardedWallets:
    return ShardedWallets(Ledger(db, ledger_settings()), home=0, window=0)


def new_base() -> str:
    return "ws-test-" + uuid.uuid4().hex


async def check_all(db: firestore.AsyncClient, base: str, count: int) -> tuple[int, int]:
    """Every shard's invariants; (available, reserved) summed over the shards."""
    states = [await check_invariants(db, w) for w in shard_wallets(base, count)]
    return sum(s["available"] for s in states), sum(s["reserved"] for s in states)


async def test_transfer_writes_both_sides_once(db: firestore.AsyncClient, wallets: ShardedWallets) -> None:
    base = new_base()
    a, b = shard_wallet(base, 0), shard_wallet(base, 1)
    ledger = Ledger(db, ledger_settings())
    await ledger.grant(a, 1_000, "g")
    assert await wallets.transfer(a, b, 300, "t1") == 300
    assert await wallets.transfer(a, b, 300, "t1") == 300  # a replay moves nothing more
    sa, sb = await check_invariants(db, a), await check_invariants(db, b)
    assert (sa["available"], sb["available"], sb["granted"]) == (700, 300, 300)
    assert await wallets.transfer(a, b, 5_000, "t2") == 700  # only what is available
    assert await wallets.transfer(a, b, 10, "t3") == 0  # nothing left: nothing written
    sa, sb = await check_invariants(db, a), await check_invariants(db, b)
    assert (sa["available"], sa["reserved"], sb["available"]) == (0, 0, 1_000)
    assert sa["seq"] == 5  # grant, then a reserve and a settle per transfer
    with pytest.raises(BadRequest):
        await wallets.transfer(a, a, 10, "t4")
    with pytest.raises(BadRequest):
        await wallets.transfer(a, b, 0, "t5")


async def test_grant_spreads_and_balance_is_the_sum(
    db: firestore.AsyncClient, wallets: ShardedWallets
) -> None:
    base = new_base()
    assert await wallets.grant(base, 4, 1_003, "invoice-1", kind="purchase") == 1_003
    assert await wallets.grant(base, 4, 1_003, "invoice-1", kind="purchase") == 0
    shards = await wallets.balances(base, 4)
    assert [b.available for b in shards] == [251, 251, 251, 250]
    assert (await wallets.balance(base, 4)).model_dump() == {"available": 1_003, "reserved": 0}
    assert await check_all(db, base, 4) == (1_003, 0)


async def test_reserve_starts_at_the_hashed_shard_and_consolidates(
    db: firestore.AsyncClient, wallets: ShardedWallets
) -> None:
    base = new_base()
    await wallets.grant(base, 4, 400, "g")  # 100 on each shard
    small = await wallets.reserve(base, 4, "h-small", want=60, minimum=60)
    assert small.wallet_id == shard_wallet(base, start_shard("h-small", 4))
    # No shard has 250, the shards together do: credits are pulled into one shard.
    big = await wallets.reserve(base, 4, "h-big", want=300, minimum=250)
    assert big.amount >= 250
    assert await wallets.reserve(base, 4, "h-big", want=5, minimum=5) == big  # a replay finds it
    assert await check_all(db, base, 4) == (400 - small.amount - big.amount, small.amount + big.amount)
    with pytest.raises(InsufficientCredits) as refused:
        await wallets.reserve(base, 4, "h-none", want=500, minimum=500)
    assert refused.value.available == 400 - small.amount - big.amount
    assert await wallets.find(base, 4, "h-none") is None
    settled = await wallets.settle(base, 4, "h-big", 200)
    assert (settled.state, settled.charged, settled.wallet_id) == ("settled", 200, big.wallet_id)
    voided = await wallets.void(base, 4, "h-small")
    assert voided.state == "voided"
    assert await check_all(db, base, 4) == (200, 0)
    assert (await wallets.balance(base, 4)).available == 200
