"""Vector stores paying for their storage: the reconciler's real `charge_storage` sweep
(shared/knowledge/storage_charge.py) over the run's stores, run by one instance or by two at the same
moment, crashing between any two of its writes (between a day's reserve and its settle, or before the
store is marked charged), with Firestore's faults at every commit.

A store is a user's (its personal wallet pays) or a workspace's: then the workspace's sharded wallet
pays, through the real Payer and WorkspaceSpending, with the store's creator (one of the workspace's two
members, tests/sim/members_sim.py) as the spender, so the day counts against their monthly limit. The two
instances start on different shards (homes 0 and 2): two sweeps at once reserve the day's fixed hold id
on the one shard it is pinned to, and never hold it on two (checked after every sweep).

The model predicts each store's day: charged once, at its bytes' price, when its owner's wallet can pay
(for a workspace: the member's limit has room for it, and the workspace's net balance covers it); else
left unpaid (marked, not charged later), and a store unpaid for GRACE_DAYS days in a row deleted. Which
stores a failed sweep reached is read back (the fixed hold id of the day, the store's mark), and must be
one the model allows; what follows is predicted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.ids import stable_id
from shared.knowledge.repository import KnowledgeRepository
from shared.knowledge.service import VectorStoreService
from shared.knowledge.storage_charge import GRACE_DAYS, charge_storage, day_price
from shared.ledger.records import HOLDS, WALLETS
from shared.ledger.wallet_ids import shard_wallets
from tests.sim import members_sim
from tests.sim.calls import Violation, shown
from tests.sim.faults import CALLER_ERRORS, Crash
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from tests.sim.world import World

GB_DAY = 100_000  # shared/catalog/media.toml: $0.10 per GB a day
LIMIT = 100  # stores a sweep takes (the run's stores are in a collection of their own: tests/sim/run.py)


class NoIngestions:
    """The stores' files have no ingestion running: nothing to stop when a store is deleted."""

    async def stop(self, principal: Any, entry: dict[str, Any]) -> None:
        return None


def stores_service(db: Any) -> VectorStoreService:
    """The real service's store deletion and repository, without files, workspaces or a catalog."""
    return VectorStoreService(KnowledgeRepository(db), NoIngestions(), None, None, "sim", 100)  # type: ignore[arg-type]


@dataclass
class SimStore:
    wallet: str  # the paying wallet: a user's, or a workspace's base id
    usage: int  # its files' bytes
    through: str = ""  # the last day marked charged (paid or unpaid)
    unpaid_since: str | None = None
    deleted: bool = False
    paid: dict[str, int] = field(default_factory=dict)  # day -> credits charged
    member: str | None = None  # a workspace's store: its creator, the member who spends

    @property
    def workspace(self) -> bool:
        return self.member is not None


async def create(world: World) -> str:
    """A store with a few files' bytes (written outright: the sweep reads only these fields), for a wallet
    with no other store: two stores of one wallet are charged in the order the sweep's query streams
    them, which decides what lots each day's hold draws."""
    owners = {st.wallet for st in world.stores.values() if not st.deleted}
    member: str | None = None
    doc: dict[str, Any]
    if world.rng.random() < 0.4 and set(world.sharded) - owners:  # a workspace's store
        w = world.rng.choice(sorted(set(world.sharded) - owners))
        await members_sim.ensure(world, w)
        member = world.rng.choice([u for (b, u) in sorted(members_sim.members(world).limits) if b == w])
        wid = members_sim.workspace_id(w)
        doc = {"user_id": member, "owner": f"workspace_{wid}", "workspace_id": wid}
    else:
        free = sorted(set(world.model) - owners)
        if not free:
            return "store create: every wallet has a store"
        w = world.rng.choice(free)
        doc = {"user_id": w, "owner": w, "workspace_id": None}
    store_id = f"vs_sim{world.tag}{world.new_id('s')}"
    usage = [world.rng.randint(10_000, 2_000_000) for _ in range(world.rng.randint(1, 3))]
    repo = world.stores_service.repo
    await repo.store(store_id).set(doc | {"name": "sim", "charged_through": ""})
    for i, n in enumerate(usage):
        await repo.store_file(store_id, f"file-{i}").set({"file_id": f"file-{i}", "usage_bytes": n})
    world.stores[store_id] = SimStore(w, sum(usage), member=member)
    by = f" by {member[-6:]}" if member else ""
    return f"store create({store_id[-6:]}, {w[-4:]}{by}, {sum(usage)} bytes)"


async def grow(world: World) -> str:
    live = [s for s, st in world.stores.items() if not st.deleted]
    if not live:
        return "store grow: no store"
    store_id = world.rng.choice(live)
    n = world.rng.randint(10_000, 2_000_000)
    await world.stores_service.repo.store_file(store_id, world.new_id("file-")).set({"usage_bytes": n})
    world.stores[store_id].usage += n
    return f"store grow({store_id[-6:]}, +{n})"


async def sweep(world: World, copies: int | None = None) -> str:
    """The reconciler's storage sweep, by one instance or by two at once; it may crash or fail anywhere."""
    copies = copies or world.rng.choice([1, 1, 1, 2])
    before = await counters(world)
    world.plan.start()
    world.plan.crashing = True
    try:
        answers = await asyncio.gather(
            *(once(world, i) for i in world.rng.sample(world.instances, copies)), return_exceptions=True
        )
    finally:
        world.plan.crashing = False
    await predict(world, before)
    return f"storage sweep x{copies} -> {[shown(a) for a in answers]}, faults {world.plan.current}"


@dataclass(frozen=True)
class Before:
    """A workspace store's member before a sweep: their counter this month, and what an earlier sweep's
    reservation of today's hold id counted if it is still pending (it failed between counting and
    holding): WorkspaceSpending.reserve then holds that amount, without checking the limit again."""

    used: int
    pending: int | None = None
    month: str = ""


async def counters(world: World) -> dict[str, Before]:
    """`Before` of each live workspace store."""
    day = world.clock.at.date().isoformat()
    found = {}
    for store_id, st in world.stores.items():
        if st.deleted or st.member is None:
            continue
        used = await members_sim.used(world, st.wallet, st.member)
        wid = members_sim.workspace_id(st.wallet)
        record = (
            await world.db.collection("workspaces")
            .document(wid)
            .collection("holds")
            .document(stable_id("storage", store_id, day))
            .get()
        )
        doc = record.to_dict() or {}
        if record.exists and doc.get("state") == "pending":
            found[store_id] = Before(used, int(doc["counted"]), str(doc["month"]))
        else:
            found[store_id] = Before(used)
    return found


async def once(world: World, instance: Any) -> str:
    try:
        payer = members_sim.payer(world, instance)  # workspace wallets too, as the reconciler's
        report = await charge_storage(world.stores_service, payer, GB_DAY, LIMIT)
    except Crash:
        return "crash"
    except CALLER_ERRORS as exc:
        return type(exc).__name__
    return f"charged {report.charged}"


async def hold_of(world: World, st: SimStore, hold_id: str) -> Any:
    """The day's hold as stored (a workspace's: on whichever shard has it, and on one only)."""
    if not st.workspace:
        return await world.ledger.hold(st.wallet, hold_id)
    count = world.sharded[st.wallet].count
    refs = [
        world.db.collection(WALLETS).document(w).collection(HOLDS).document(hold_id)
        for w in shard_wallets(st.wallet, count)
    ]
    on = [snap.reference.parent.parent.id async for snap in world.db.get_all(refs) if snap.exists]
    if len(on) > 1:
        raise Violation(f"hold {hold_id} is held on {len(on)} shards of {st.wallet}: {sorted(on)}")
    return await world.ledger_shards.find(st.wallet, count, hold_id)


async def predict(world: World, before: dict[str, Before]) -> None:
    """What the sweep did to each store of the run, against the model: paid days first (a wallet's
    refusals are then checked against what it has left, which is no more than it had at the refusal)."""
    at = world.clock.at
    day = at.date().isoformat()
    live = {s: st for s, st in world.stores.items() if not st.deleted}
    docs = {s: (await world.stores_service.repo.store(s).get()).to_dict() for s in live}
    holds = {s: await hold_of(world, st, stable_id("storage", s, day)) for s, st in live.items()}
    for store_id, st in live.items():
        stored = holds[store_id]
        if stored is not None:
            paid(world, store_id, st, stored, day, before.get(store_id, Before(0)))
    for store_id, st in live.items():
        if st.through == day:
            continue  # predicted by an earlier sweep of the day
        doc = docs[store_id]
        credits = day_price(st.usage, GB_DAY)
        if doc is not None and doc.get("charged_through") != day:
            continue  # not reached, or crashed before its mark: the next sweep of the day does it
        if holds[store_id] is not None:
            if not charged(holds[store_id]):
                raise Violation(f"store {store_id} marked charged on {day}, hold {shown(holds[store_id])}")
            mark(world, store_id, st, doc, day, None)
            continue
        if credits == 0:
            mark(world, store_id, st, doc, day, None)
            continue
        if can_pay(world, st, credits, before.get(store_id, Before(0))):
            raise Violation(f"store {store_id} left unpaid on {day} ({credits}) though its wallet can pay")
        since = st.unpaid_since or day
        overdue = (dt.date.fromisoformat(day) - dt.date.fromisoformat(since)).days >= GRACE_DAYS
        if overdue != (doc is None):
            raise Violation(f"store {store_id} unpaid since {since}: deleted {doc is None}, model {overdue}")
        st.deleted = overdue
        mark(world, store_id, st, doc, day, since)
    for st in live.values():
        if st.member is not None:  # never over the limit, never counted below what the ledger took
            await members_sim.check(world, st.wallet, st.member)


def can_pay(world: World, st: SimStore, credits: int, before: Before) -> bool:
    """Whether the store's owner could pay `credits` when the sweep reserved (for a workspace's store,
    given its member's `before`)."""
    if st.member is None:
        m = world.model[st.wallet]
        return m.debt == 0 and m.spendable(world.clock.at) >= credits
    if before.pending is not None:  # counted already: only the wallet decides
        return world.sharded[st.wallet].net >= min(credits, before.pending)
    limit = members_sim.members(world).limits[(st.wallet, st.member)]
    room = limit is None or limit - before.used >= credits
    return room and world.sharded[st.wallet].net >= credits


def paid(world: World, store_id: str, st: SimStore, stored: Any, day: str, before: Before) -> None:
    """The day's hold exists: reserved for the day's price once, settled for it (maybe late) once."""
    at, ttl = world.clock.at, dt.timedelta(seconds=600)
    hold_id, credits = stable_id("storage", store_id, day), day_price(st.usage, GB_DAY)
    m: Any = world.sharded[st.wallet] if st.member is not None else world.model[st.wallet]
    if hold_id not in m.holds:
        if st.member is not None and before.pending is not None:
            held = counted_hold(world, st, before, hold_id, credits, ttl)
        elif st.member is not None:
            held = members_sim.reserve(
                world, st.wallet, st.member, before.used, hold_id, credits, credits, ttl
            )
        else:
            held = m.reserve(hold_id, credits, credits, at, ttl)
        if not isinstance(held, ModelHold):
            raise Violation(f"store {store_id} reserved {shown(stored)} for {day}; the model refuses: {held}")
    held = m.holds[hold_id]
    if charged(stored) and held.shown_charge == 0:  # settled now (late, when the hold had expired)
        want = (
            m.finish(hold_id, "settled", credits) if st.member is not None else m.settle(hold_id, credits, at)
        )
        st.paid[day] = want.shown_charge if want else 0
    world.same(f"storage hold {store_id} {day}", stored, held)


def counted_hold(world: World, st: SimStore, before: Before, hold_id: str, credits: int, ttl: Any) -> Any:
    """WorkspaceSpending.reserve of a hold id an earlier attempt counted: what it counted is held (the
    store may have grown since: the day then costs what was counted), the limit not checked again."""
    assert st.member is not None and before.pending is not None
    want = before.pending
    held = world.sharded[st.wallet].reserve(hold_id, want, min(credits, want), world.clock.at, ttl)
    if isinstance(held, ModelHold):
        ms = members_sim.members(world)
        ms.spends[hold_id] = members_sim.Spend(st.wallet, st.member, before.month, want)
        ms.by_month.setdefault((st.wallet, st.member, before.month), []).append(hold_id)
    return held


def charged(stored: Any) -> bool:
    """The day's hold was settled: in time, or late on the hold the reconciler had expired."""
    return bool(stored.state == "settled" or (stored.state == "expired" and stored.charged > 0))


def mark(world: World, store_id: str, st: SimStore, doc: Any, day: str, since: str | None) -> None:
    st.through, st.unpaid_since = day, since
    if doc is None:
        return
    got = (doc.get("charged_through"), doc.get("storage_unpaid_since"))
    if got != (day, since):
        raise Violation(f"store {store_id} is marked {got}, the model expects {(day, since)}")


async def drain(world: World) -> None:
    """The end of the run: one fault-free sweep charges every store's day once."""
    world.recent.append(await sweep(world, 1))
    day = world.clock.at.date().isoformat()
    for store_id, st in world.stores.items():
        if not st.deleted and st.through != day:
            raise Violation(f"a fault-free sweep left store {store_id} at {st.through}, not {day}")


async def audit(world: World) -> None:
    """Every day a store paid is one settled hold of that day's fixed id, charged what the model says."""
    for store_id, st in world.stores.items():
        for day, credits in st.paid.items():
            held = await hold_of(world, st, stable_id("storage", store_id, day))
            if held is None or held.state not in ("settled", "expired") or held.charged != credits:
                raise Violation(f"store {store_id} paid {credits} for {day}; its hold is {shown(held)}")
