"""Two reservations of one hold id racing on a workspace wallet (two reconciler runs charging the same
store's day, a client retrying a job's creation) must end as one hold on one shard: such callers pin the
hold (ShardedWallets.reserve(pinned=True)) to the shard its id names, credits gathered there first."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from google.cloud import firestore

from shared.ledger.errors import InsufficientCredits
from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets, start_shard
from shared.ledger.wallet_ids import shard_wallets
from tests.support.ledger import check_invariants, ledger_settings

pytestmark = pytest.mark.anyio
SHARDS = 4


async def holds_of(ledger: Ledger, base: str, hold_id: str) -> list[str]:
    found = []
    for wallet_id in shard_wallets(base, SHARDS):
        if await ledger.hold(wallet_id, hold_id) is not None:
            found.append(wallet_id)
    return found


async def race(db: firestore.AsyncClient, homes: tuple[int, int], pinned: bool, rounds: int = 12) -> int:
    """`rounds` races of two instances (two ShardedWallets with these homes) reserving one hold id on a
    wallet whose every shard but one holds 100, the empty one being where the id's hash points; how many
    ended with the id held on more than one shard."""
    ledger = Ledger(db, ledger_settings())
    doubles = 0
    for attempt in range(rounds):
        base = "ws-race-" + uuid.uuid4().hex
        hold_id = f"storage-{attempt}"
        wallets = shard_wallets(base, SHARDS)
        for k, wallet_id in enumerate(wallets):
            if k != start_shard(hold_id, SHARDS):
                await ledger.grant(wallet_id, 100, f"g{k}")
        one, two = ShardedWallets(ledger, home=homes[0]), ShardedWallets(ledger, home=homes[1])
        held = await asyncio.gather(
            one.reserve(base, SHARDS, hold_id, 80, 80, pinned=pinned),
            two.reserve(base, SHARDS, hold_id, 80, 80, pinned=pinned),
        )
        found = await holds_of(ledger, base, hold_id)
        doubles += len(found) > 1
        if pinned:
            assert found == [wallets[start_shard(hold_id, SHARDS)]]
            assert {h.wallet_id for h in held} == set(found) and {h.amount for h in held} == {80}
            for wallet_id in wallets:
                await check_invariants(db, wallet_id)
    return doubles


async def test_an_unpinned_hold_id_raced_by_two_instances_can_be_held_twice(
    db: firestore.AsyncClient,
) -> None:
    """Why callers with a fixed id pin it: without, two instances (or one falling back to another shard)
    hold the same id on two shards. Random ids never race with themselves, so nothing else needs it."""
    assert await race(db, (0, 2), pinned=False) > 0


async def test_a_pinned_hold_id_raced_by_two_instances_is_held_once_where_its_id_says(
    db: firestore.AsyncClient,
) -> None:
    assert await race(db, (0, 2), pinned=True) == 0
    assert await race(db, (1, 1), pinned=True) == 0


async def test_a_pinned_hold_is_refused_when_the_shards_together_have_too_little(
    db: firestore.AsyncClient,
) -> None:
    ledger = Ledger(db, ledger_settings())
    base = "ws-short-" + uuid.uuid4().hex
    for k, wallet_id in enumerate(shard_wallets(base, SHARDS)):
        await ledger.grant(wallet_id, 10, f"g{k}")
    with pytest.raises(InsufficientCredits):
        await ShardedWallets(ledger).reserve(base, SHARDS, "day-1", 80, 80, pinned=True)
    held = await ShardedWallets(ledger).reserve(base, SHARDS, "day-2", 80, 30, pinned=True)
    assert held.amount == 40 and held.wallet_id == shard_wallets(base, SHARDS)[start_shard("day-2", SHARDS)]
    for wallet_id in shard_wallets(base, SHARDS):
        await check_invariants(db, wallet_id)
