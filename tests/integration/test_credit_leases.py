"""Credit leases (shared/spending/leases.py) on the Firestore emulator: calls admitted in memory from a real
hold, flushed with their usage records, closed for exactly what they used; the fall-backs to per-call
holds; two instances on one wallet; a crash bounded by one lease; a lost flush answer; a workspace wallet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from typing import Any

import pytest
from google.cloud import firestore

from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import shard_wallets, workspace_wallet_base
from shared.plans.offers import plan_offers
from shared.purchases.repository import BillingRepository
from shared.spending.lease import LeasedCall
from shared.spending.leases import LeaseBook
from shared.spending.members import WorkspaceSpending
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder
from shared.workspaces.service import WorkspaceService
from tests.support.ledger import check_invariants, ledger_settings, new_wallet
from tests.support.lots import Clock
from tests.support.workspaces import add_member

pytestmark = pytest.mark.anyio

LEASE = 50_000


class Ticks:
    """Monotonic seconds that move only when the test says so (idle and low-balance windows)."""

    def __init__(self) -> None:
        self.at = 1_000.0

    def __call__(self) -> float:
        return self.at


def book_for(db: firestore.AsyncClient, ticks: Ticks | None = None, **overrides: Any) -> LeaseBook:
    settings = ledger_settings(credit_lease_credits=LEASE, **overrides)
    ledger = Ledger(db, settings)
    payer = Payer(ledger, WorkspaceSpending(db, ShardedWallets(ledger)))
    return LeaseBook(payer, UsageRecorder(db), settings, monotonic=ticks or Ticks())


async def started(book: LeaseBook) -> LeaseBook:
    await book.start(background=False)  # the tests flush and sweep themselves
    return book


async def spend(book: LeaseBook, wallet: str, user: str, want: int, cost: int) -> tuple[str, int] | None:
    """One call: admitted from a lease (or None: it would use a per-call hold), settled, recorded."""
    call = await book.take(wallet, user, want)
    if call is None:
        return None
    await asyncio.sleep(0)  # other calls run while this one is "streaming"
    charged = call.settle(cost)
    record_id = f"call-{uuid.uuid4().hex}"
    call.record(record_id, book.usage.stamped({"credits": charged, "wallet_id": call.wallet_id}))
    return record_id, charged


def check_leases(book: LeaseBook) -> None:
    for lease in book.all():
        lease.check()


async def records_total(db: firestore.AsyncClient, record_ids: list[str]) -> int:
    refs = [db.collection("usage").document(r) for r in record_ids]
    docs = [s async for s in db.get_all(refs) if s.exists]
    assert len(docs) == len(record_ids), "a record never reached Firestore"
    return sum(int((d.to_dict() or {})["credits"]) for d in docs)


async def test_fifty_concurrent_calls_on_one_lease_are_charged_exactly_after_the_close(
    db: firestore.AsyncClient,
) -> None:
    book, wallet, user = await started(book_for(db)), new_wallet(), "u1"
    ledger = book.payer.ledger
    await ledger.grant(wallet, 1_000_000, "start")
    rng = random.Random(7)
    costs = [rng.randint(0, 900) for _ in range(50)]
    done = await asyncio.gather(*(spend(book, wallet, user, 900, c) for c in costs))
    assert all(d is not None for d in done)
    check_leases(book)
    leases = book.all()
    assert len(leases) == 1 and leases[0].used == sum(costs) and leases[0].in_flight == 0
    # Before the flush the ledger knows only the hold: nothing charged, no records.
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (950_000, LEASE, 0)
    assert await book.flush() == 1
    hold = (await ledger.docs.hold(wallet, leases[0].hold_id).get()).to_dict()
    assert hold["used"] == sum(costs)
    ids = [d[0] for d in done if d is not None]
    assert await records_total(db, ids) == sum(costs)
    await book.close()
    assert book.all() == []
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (1_000_000 - sum(costs), 0, sum(costs))


async def test_a_lease_is_topped_up_ahead_of_need_and_the_used_one_retired(db: firestore.AsyncClient) -> None:
    book, wallet = await started(book_for(db)), new_wallet()
    await book.payer.ledger.grant(wallet, 1_000_000, "start")
    for _ in range(6):  # 6 x 5,000 used: the first lease's free part drops under half
        assert await spend(book, wallet, "u1", 5_000, 5_000) is not None
    await asyncio.gather(*book._tasks)  # the top-up, reserved in the background
    assert len(book.all()) == 2
    await book.flush()  # the crash bound lets the next lease take calls once the first is flushed
    for _ in range(5):  # the first lease has 20,000 free: a call of 25,000 retires it
        assert await spend(book, wallet, "u1", 25_000, 100) is not None
        await book.flush()
        await book.sweep()
        check_leases(book)
    await asyncio.gather(*book._tasks)
    await book.close()
    w = await check_invariants(db, wallet)
    assert (w["reserved"], w["settled"], w["available"]) == (0, 30_500, 1_000_000 - 30_500)


async def test_a_low_balance_and_a_call_bigger_than_a_lease_use_per_call_holds(
    db: firestore.AsyncClient,
) -> None:
    ticks = Ticks()
    book, wallet = await started(book_for(db, ticks)), new_wallet()
    ledger = book.payer.ledger
    await ledger.grant(wallet, LEASE - 1, "start")  # smaller than a lease
    assert await book.take(wallet, "u1", 100) is None
    assert book.all() == [] and (await ledger.balance(wallet)).available == LEASE - 1
    await ledger.grant(wallet, 10_000, "more")
    assert await book.take(wallet, "u1", 100) is None  # remembered as low for a while: no reserve tried
    ticks.at += 11
    call = await book.take(wallet, "u1", 100)
    assert isinstance(call, LeasedCall)
    assert await book.take(wallet, "u1", LEASE + 1) is None  # more than a lease: its own hold
    call.release()
    await book.close()
    w = await check_invariants(db, wallet)
    assert (w["available"], w["settled"]) == (LEASE - 1 + 10_000, 0)


async def test_a_wallet_too_low_for_a_lease_is_remembered_for_all_its_spenders(
    db: firestore.AsyncClient,
) -> None:
    ticks = Ticks()
    book, wallet = await started(book_for(db, ticks)), new_wallet()
    ledger = book.payer.ledger
    await ledger.grant(wallet, LEASE - 1, "start")
    assert await book.take(wallet, "u1", 100) is None
    await ledger.grant(wallet, 10_000, "more")  # now a lease would fit, were a reserve tried
    assert await book.take(wallet, "u2", 100) is None  # another spender: no reserve tried either
    assert book.all() == []
    ticks.at += 11
    call = await book.take(wallet, "u2", 100)
    assert isinstance(call, LeasedCall)
    call.release()
    await book.close()
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (LEASE - 1 + 10_000, 0, 0)


async def test_an_idle_lease_is_settled_and_gives_the_rest_back_exactly(db: firestore.AsyncClient) -> None:
    ticks = Ticks()
    book, wallet = await started(book_for(db, ticks)), new_wallet()
    await book.payer.ledger.grant(wallet, 200_000, "start")
    ids = []
    for cost in (120, 0, 3_333):
        done = await spend(book, wallet, "u1", 4_000, cost)
        assert done is not None
        ids.append(done[0])
    leased = await book.take(wallet, "u1", 4_000)
    assert leased is not None
    ticks.at += 31
    assert await book.sweep() == 0  # a call in flight keeps it open
    leased.release()
    ticks.at += 31
    assert await book.sweep() == 1
    assert book.all() == []
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (200_000 - 3_453, 0, 3_453)
    assert await records_total(db, ids) == 3_453


async def test_two_instances_on_one_wallet_never_overspend(db: firestore.AsyncClient) -> None:
    books = [await started(book_for(db)), await started(book_for(db))]
    wallet = new_wallet()
    await books[0].payer.ledger.grant(wallet, 120_000, "start")  # room for two leases, not three
    rng = random.Random(11)
    charged = 0
    for _ in range(12):
        batch = [spend(rng.choice(books), wallet, "u1", 2_000, rng.randint(500, 2_000)) for _ in range(20)]
        for done in await asyncio.gather(*batch):
            charged += done[1] if done is not None else 0
        await asyncio.gather(*(b.flush() for b in books))
        await asyncio.gather(*(b.sweep() for b in books))
        await asyncio.gather(*(t for b in books for t in b._tasks))
        w = await check_invariants(db, wallet)
        assert w["available"] >= 0 and w["settled"] <= charged
        for b in books:
            check_leases(b)
    for b in books:
        await b.close()
    w = await check_invariants(db, wallet)
    assert w["settled"] == charged <= 120_000
    assert (w["available"], w["reserved"]) == (120_000 - charged, 0)


async def test_a_crash_charges_what_was_flushed_and_loses_at_most_one_lease(
    db: firestore.AsyncClient, clock: Clock
) -> None:
    book, wallet = await started(book_for(db)), new_wallet()
    ledger = book.payer.ledger
    await ledger.grant(wallet, 1_000_000, "start")
    flushed = 0
    for _ in range(30):
        done = await spend(book, wallet, "u1", 1_000, 700)
        assert done is not None
        flushed += done[1]
    await book.flush()
    unflushed = 0
    while (done := await spend(book, wallet, "u1", 1_000, 1_000)) is not None:
        unflushed += done[1]  # calls go on, unflushed, until the crash bound stops them
    assert unflushed + sum(lease.in_flight for lease in book.all()) <= LEASE
    del book  # the instance dies: no flush, no close
    clock.advance(dt.timedelta(seconds=121))
    assert await ledger.expire_due() >= 1
    w = await check_invariants(db, wallet)
    assert (w["settled"], w["reserved"], w["available"]) == (flushed, 0, 1_000_000 - flushed)
    # Under-charged by what was settled in memory since the flush: here the whole bound, one lease
    # (29,000 on the first lease and 21,000 on its top-up), never more.
    assert unflushed == LEASE


async def test_a_flush_whose_answer_is_lost_is_retried_without_charging_twice(
    db: firestore.AsyncClient,
) -> None:
    book, wallet = await started(book_for(db)), new_wallet()
    ledger = book.payer.ledger
    await ledger.grant(wallet, 100_000, "start")
    real = ledger.record_progress
    lost = []

    async def applied_then_lost(*args: Any, **kwargs: Any) -> Any:
        held = await real(*args, **kwargs)
        if not lost:
            lost.append(held)
            raise TimeoutError("the commit was applied, its answer lost")
        return held

    ledger.record_progress = applied_then_lost  # type: ignore[method-assign]
    ids = []
    for cost in (1_000, 2_000):
        done = await spend(book, wallet, "u1", 3_000, cost)
        assert done is not None
        ids.append(done[0])
    assert await book.flush() == 0  # failed as far as the book knows
    lease = book.all()[0]
    assert (lease.flushed_used, len(lease.records)) == (0, 2)
    done = await spend(book, wallet, "u1", 3_000, 500)
    assert done is not None
    ids.append(done[0])
    assert await book.flush() == 1
    assert (lease.flushed_used, lease.records, lease.seq) == (3_500, [], 2)
    await book.close()
    w = await check_invariants(db, wallet)
    assert (w["settled"], w["available"], w["clawed_back"]) == (3_500, 96_500, 0)
    assert await records_total(db, ids) == 3_500


async def test_a_workspace_wallet_leases_per_member_within_their_limit(db: firestore.AsyncClient) -> None:
    settings = ledger_settings(workspace_wallet_shards=2, workspace_default_plan="team")
    service = WorkspaceService(db, settings, plan_offers(settings), BillingRepository(db))
    owner, member, capped = ("u-" + uuid.uuid4().hex for _ in range(3))
    ws = (await service.create(owner, f"{owner}@example.com", "Leases")).id
    await add_member(service, ws, member)
    await add_member(service, ws, capped)
    await service.update_member(owner, ws, capped, None, 40_000, False)  # below one lease
    book = await started(book_for(db))
    base = workspace_wallet_base(ws)
    await ShardedWallets(book.payer.ledger).grant(base, 2, 500_000, "g")
    charged = 0
    for _ in range(10):
        done = await spend(book, base, member, 2_000, 1_500)
        assert done is not None
        charged += done[1]
    lease = book.all()[0]
    assert lease.wallet_id in shard_wallets(base, 2)  # the hold lives on a shard
    assert await book.take(base, capped, 100) is None  # the member's limit is below a lease
    await book.close()
    spending = book.payer.workspaces
    assert spending is not None
    assert await spending.used(ws, member) == charged == 15_000
    assert await spending.used(ws, capped) == 0
    total = 0
    for shard in shard_wallets(base, 2):
        w = await check_invariants(db, shard)
        total += w["available"]
        assert w["reserved"] == 0
    assert total == 500_000 - charged
