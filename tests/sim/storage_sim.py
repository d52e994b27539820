"""Vector stores paying for their storage: the reconciler's real `charge_storage` sweep
(shared/knowledge/storage_charge.py) over the run's stores, run by one instance or by two at the same
moment, crashing between any two of its writes (between a day's reserve and its settle, or before the
store is marked charged), with Firestore's faults at every commit.

The model predicts each store's day: charged once, at its bytes' price, when its owner's wallet can pay;
else left unpaid (marked, not charged later), and a store unpaid for GRACE_DAYS days in a row deleted.
Which stores a failed sweep reached is read back (the fixed hold id of the day, the store's mark), and
must be one the model allows; what follows is predicted.
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
    wallet: str
    usage: int  # its files' bytes
    through: str = ""  # the last day marked charged (paid or unpaid)
    unpaid_since: str | None = None
    deleted: bool = False
    paid: dict[str, int] = field(default_factory=dict)  # day -> credits charged


async def create(world: World) -> str:
    """A store with a few files' bytes (written outright: the sweep reads only these fields), for a wallet
    with no other store: two stores of one wallet are charged in the order the sweep's query streams
    them, which decides what lots each day's hold draws."""
    owners = {st.wallet for st in world.stores.values() if not st.deleted}
    free = sorted(set(world.model) - owners)
    if not free:
        return "store create: every wallet has a store"
    w = world.rng.choice(free)
    store_id = f"vs_sim{world.tag}{world.new_id('s')}"
    usage = [world.rng.randint(10_000, 2_000_000) for _ in range(world.rng.randint(1, 3))]
    repo = world.stores_service.repo
    doc = {"user_id": w, "owner": w, "workspace_id": None, "name": "sim", "charged_through": ""}
    await repo.store(store_id).set(doc)
    for i, n in enumerate(usage):
        await repo.store_file(store_id, f"file-{i}").set({"file_id": f"file-{i}", "usage_bytes": n})
    world.stores[store_id] = SimStore(w, sum(usage))
    return f"store create({store_id[-6:]}, {w[-4:]}, {sum(usage)} bytes)"


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
    world.plan.start()
    world.plan.crashing = True
    try:
        answers = await asyncio.gather(
            *(once(world, i) for i in world.rng.sample(world.instances, copies)), return_exceptions=True
        )
    finally:
        world.plan.crashing = False
    await predict(world)
    return f"storage sweep x{copies} -> {[shown(a) for a in answers]}, faults {world.plan.current}"


async def once(world: World, instance: Any) -> str:
    try:
        report = await charge_storage(world.stores_service, instance.payer, GB_DAY, LIMIT)
    except Crash:
        return "crash"
    except CALLER_ERRORS as exc:
        return type(exc).__name__
    return f"charged {report.charged}"


async def predict(world: World) -> None:
    """What the sweep did to each store of the run, against the model: paid days first (a wallet's
    refusals are then checked against what it has left, which is no more than it had at the refusal)."""
    at = world.clock.at
    day = at.date().isoformat()
    live = {s: st for s, st in world.stores.items() if not st.deleted}
    docs = {s: (await world.stores_service.repo.store(s).get()).to_dict() for s in live}
    holds = {s: await world.ledger.hold(st.wallet, stable_id("storage", s, day)) for s, st in live.items()}
    for store_id, st in live.items():
        stored = holds[store_id]
        if stored is not None:
            paid(world, store_id, st, stored, day)
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
        m = world.model[st.wallet]
        if m.debt == 0 and m.spendable(at) >= credits:
            raise Violation(f"store {store_id} left unpaid on {day} ({credits}) though its wallet can pay")
        since = st.unpaid_since or day
        overdue = (dt.date.fromisoformat(day) - dt.date.fromisoformat(since)).days >= GRACE_DAYS
        if overdue != (doc is None):
            raise Violation(f"store {store_id} unpaid since {since}: deleted {doc is None}, model {overdue}")
        st.deleted = overdue
        mark(world, store_id, st, doc, day, since)


def paid(world: World, store_id: str, st: SimStore, stored: Any, day: str) -> None:
    """The day's hold exists: reserved for the day's price once, settled for it (maybe late) once."""
    m, at = world.model[st.wallet], world.clock.at
    hold_id, credits = stable_id("storage", store_id, day), day_price(st.usage, GB_DAY)
    if hold_id not in m.holds:
        held = m.reserve(hold_id, credits, credits, at, dt.timedelta(seconds=600))
        if not isinstance(held, ModelHold):
            raise Violation(f"store {store_id} reserved {shown(stored)} for {day}; the model refuses: {held}")
    held = m.holds[hold_id]
    if charged(stored) and held.shown_charge == 0:  # settled now (late, when the hold had expired)
        want = m.settle(hold_id, credits, at)
        st.paid[day] = want.shown_charge if want else 0
    world.same(f"storage hold {store_id} {day}", stored, held)


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
            held = await world.ledger.hold(st.wallet, stable_id("storage", store_id, day))
            if held is None or held.state not in ("settled", "expired") or held.charged != credits:
                raise Violation(f"store {store_id} paid {credits} for {day}; its hold is {shown(held)}")
