"""Credit leases (shared/spending/leases.py) in the money simulator: three instances, each a LeaseBook with
its own Ledger on the faulty Firestore client, admitting calls on two wallets for two spenders each;
calls opened and ended, flushes, idle closes, instances crashing between any two steps (and replaced),
the main simulator's clock jumps and reconciler sweeps, and commits failing as the fault plan says.

The reference model counts, per wallet, what was granted, what the calls cost as settled in memory
(`spent`), and what crashes lost (`lost`: what the dead instance had settled but not flushed). After
every step, for every wallet: the ledger's sums hold, granted is the model's, and what the ledger charged
(settled + clawed back + owed) never exceeds `spent` (nothing charged twice); every lease adds up
(free + in flight + used == amount) and at a crash each (wallet, spender) lost at most one lease. At the
end (every call ended, every book closed, the reconciler run, no faults): spent - lost <= charged <=
spent, and every record not lost in a crash is in Firestore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.ledger.ledger import Ledger
from shared.settings import Settings
from shared.spending.lease import LeasedCall
from shared.spending.leases import LeaseBook
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder
from tests.sim.calls import Violation
from tests.support.ledger import check_invariants

if TYPE_CHECKING:
    from tests.sim.world import World

LEASE = 20_000
INSTANCES = 3
SPENDERS = ("a", "b")
START = 150_000  # each wallet's first grant: a few leases' worth, so instances meet low balances


@dataclass
class Call:
    book: LeaseBook
    leased: LeasedCall
    wallet: str


@dataclass
class LeaseWallet:
    granted: int = 0
    spent: int = 0  # what the calls cost, as settled in memory
    lost: int = 0  # settled in memory by an instance that died before flushing it


@dataclass
class LeaseWorld:
    settings: Settings
    books: list[LeaseBook]
    wallets: dict[str, LeaseWallet]
    calls: list[Call] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)  # record id -> credits, of calls ended
    lost_records: set[str] = field(default_factory=set)
    crashes: int = 0
    worst_loss: int = 0  # the most one (wallet, spender) lost in one crash
    drained: bool = False


async def state(world: World) -> LeaseWorld:
    """The leases' part of the world, made on first use (so the main simulator's set-up is unchanged)."""
    found: LeaseWorld | None = getattr(world, "lease_world", None)
    if found is None:
        settings = Settings(
            GOOGLE_CLOUD_PROJECT=str(world.db.project),
            credit_lease_credits=LEASE,
            credit_lease_ttl_s=120,
            credit_lease_idle_s=30,
            credit_lease_low_s=60,
        )
        wallets = {f"w-lease-{world.tag}-{i}": LeaseWallet() for i in range(2)}
        found = LeaseWorld(settings, [], wallets)
        found.books = [await new_book(world, found, k) for k in range(INSTANCES)]
        world.lease_world = found  # type: ignore[attr-defined]
    return found


async def new_book(world: World, lw: LeaseWorld, k: int) -> LeaseBook:
    ledger = Ledger(world.db, lw.settings)
    book = LeaseBook(
        Payer(ledger),
        UsageRecorder(world.db),
        lw.settings,
        instance_id=f"{k}x{lw.crashes}",
        monotonic=lambda: world.clock.at.timestamp(),
    )
    await book.start(background=False)  # its flushes and sweeps are the operations below
    return book


async def grant(world: World) -> str:
    lw = await state(world)
    wallet = world.rng.choice(sorted(lw.wallets))
    amount = START if lw.wallets[wallet].granted == 0 else world.rng.choice([5_000, 30_000, 60_000])
    world.plan.start()
    world.plan.enabled, was = False, world.plan.enabled  # a grant is the payments' story, not this one's
    try:
        await lw.books[0].payer.ledger.grant(wallet, amount, world.new_id("lease-grant-"))
    finally:
        world.plan.enabled = was
    lw.wallets[wallet].granted += amount
    return f"lease grant {amount} -> {wallet[-1]}"


async def open_call(world: World) -> str:
    lw = await state(world)
    k = world.rng.randrange(len(lw.books))
    book, wallet = lw.books[k], world.rng.choice(sorted(lw.wallets))
    if lw.wallets[wallet].granted == 0:
        return await grant(world)
    want = world.rng.choice([300, 1_500, 4_000, 9_000, LEASE + 1])
    world.plan.start()
    leased = await book.take(wallet, world.rng.choice(SPENDERS), want)
    await book.quiet()
    if leased is None:
        return f"lease call {want} on {k} -> per-call hold (faults {world.plan.current})"
    lw.calls.append(Call(book, leased, wallet))
    return f"lease call {want} on {k} -> {leased.lease.hold_id[-3:]}"


async def end_call(world: World, call: Call | None = None) -> str:
    lw = await state(world)
    if call is None:
        if not lw.calls:
            return await open_call(world)
        call = lw.calls[world.rng.randrange(len(lw.calls))]
    lw.calls.remove(call)
    if world.rng.random() < 0.2:
        call.leased.release()
        return "lease call released"
    charged = call.leased.settle(world.rng.randint(0, call.leased.amount * 6 // 5))
    record_id = world.new_id(f"lease-rec-{world.tag}-")
    call.leased.record(record_id, call.book.usage.stamped({"credits": charged, "wallet_id": call.wallet}))
    lw.wallets[call.wallet].spent += charged
    lw.records[record_id] = charged
    return f"lease call settled {charged}"


async def flush(world: World) -> str:
    lw = await state(world)
    k = world.rng.randrange(len(lw.books))
    world.plan.start()
    written = await lw.books[k].flush()
    return f"lease flush {k} -> {written} written, faults {world.plan.current}"


async def sweep(world: World) -> str:
    lw = await state(world)
    k = world.rng.randrange(len(lw.books))
    world.plan.start()
    closed = await lw.books[k].sweep()
    return f"lease sweep {k} -> {closed} closed, faults {world.plan.current}"


async def crash(world: World) -> str:
    """An instance dies between two steps: its calls in flight and what it settled unflushed are gone."""
    lw = await state(world)
    k = world.rng.randrange(len(lw.books))
    book = lw.books[k]
    by_key: dict[tuple[str, str], int] = {}
    for lease in book.all():
        by_key[lease.key] = by_key.get(lease.key, 0) + lease.unflushed
        lw.wallets[lease.key[0]].lost += lease.unflushed
        lw.lost_records |= {record_id for record_id, _ in lease.records}
    worst = max(by_key.values(), default=0)
    if worst > LEASE:
        raise Violation(f"instance {k} crashed with {by_key} unflushed: more than one lease ({LEASE})")
    lw.worst_loss = max(lw.worst_loss, worst)
    lw.calls = [c for c in lw.calls if c.book is not book]
    lw.crashes += 1
    lw.books[k] = await new_book(world, lw, k)
    return f"lease instance {k} crashed, lost {sum(by_key.values())}"


def sums(wallet: str, doc: dict[str, Any]) -> None:
    """The ledger's sums on one wallet (tests/sim/audit.py checks the same on the main wallets)."""
    s = {k: int(doc.get(k, 0)) for k in ("available", "reserved", "granted", "settled", "clawed_back")}
    s |= {k: int(doc.get(k, 0)) for k in ("expired", "debt")}
    if min(s.values()) < 0 or (s["debt"] > 0 and s["available"] > 0):
        raise Violation(f"lease wallet {wallet} is off: {s}")
    if s["available"] + s["reserved"] != s["granted"] - s["settled"] - s["clawed_back"] - s["expired"]:
        raise Violation(f"lease wallet {wallet} does not add up: {s}")


def charged(doc: dict[str, Any]) -> int:
    return sum(int(doc.get(k, 0)) for k in ("settled", "clawed_back", "debt"))


async def audit(world: World) -> None:
    """After every step: sums, grants, never charged more than spent, every lease adding up."""
    lw: LeaseWorld | None = getattr(world, "lease_world", None)
    if lw is None:
        return
    refs = [world.db.collection("wallets").document(w) for w in sorted(lw.wallets)]
    docs = {snap.id: snap.to_dict() or {} async for snap in world.db.get_all(refs)}
    for wallet, m in lw.wallets.items():
        doc = docs.get(wallet, {})
        sums(wallet, doc)
        if int(doc.get("granted", 0)) != m.granted:
            raise Violation(f"lease wallet {wallet} granted {doc.get('granted')}, the model {m.granted}")
        if charged(doc) > m.spent:
            raise Violation(f"lease wallet {wallet} charged {charged(doc)} for calls that cost {m.spent}")
        if lw.drained and not m.spent - m.lost <= charged(doc):
            raise Violation(f"lease wallet {wallet} charged {charged(doc)}: spent {m.spent}, lost {m.lost}")
    for book in lw.books:
        for lease in book.all():
            try:
                lease.check()
            except AssertionError as exc:
                raise Violation(str(exc)) from exc


async def full(world: World) -> None:
    lw: LeaseWorld | None = getattr(world, "lease_world", None)
    if lw is None:
        return
    for wallet in lw.wallets:
        try:
            await check_invariants(world.db, wallet)
        except AssertionError as exc:
            raise Violation(f"ledger invariant broken in lease wallet {wallet}: {exc}") from exc
    if not lw.drained:
        return
    kept = sorted(set(lw.records) - lw.lost_records)
    for i in range(0, len(kept), 300):
        refs = [world.db.collection("usage").document(r) for r in kept[i : i + 300]]
        found = {s.id: (s.to_dict() or {}) async for s in world.db.get_all(refs) if s.exists}
        missing = [r for r in kept[i : i + 300] if r not in found]
        if missing or any(int(found[r]["credits"]) != lw.records[r] for r in found):
            raise Violation(f"lease records missing or wrong: {missing[:5]}")


async def drain(world: World) -> None:
    """The end: every call ends, every book flushes and closes (no faults), before the last sweep."""
    lw: LeaseWorld | None = getattr(world, "lease_world", None)
    if lw is None:
        return
    while lw.calls:
        world.recent.append(await end_call(world, lw.calls[0]))
    for book in lw.books:
        await book.close()
        if book.all():
            raise Violation(f"a closed lease book still holds {[lease.hold_id for lease in book.all()]}")
    lw.drained = True
    world.recent.append(
        f"leases drained: {lw.crashes} crashes, worst loss {lw.worst_loss} of a {LEASE}-credit lease, "
        f"lost {sum(m.lost for m in lw.wallets.values())} of {sum(m.spent for m in lw.wallets.values())}"
    )
