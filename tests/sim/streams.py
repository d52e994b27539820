"""Credits in and chat spends straight on the ledger: grants (some expiring, some delivered twice at once),
holds reserved by a stream, extended by its heartbeat, settled, voided, abandoned, or settled by two
instances at the same moment. Each call is predicted by the model (tests/sim/model.py) through
`World.call`, which queues a failed call for the platform's retry."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.ledger.schemas import Hold
from tests.sim.calls import Retry, Violation, shown

if TYPE_CHECKING:
    from tests.sim.world import World


@dataclass
class Stream:
    """A chat spend in flight: its hold, what it has used so far, and whether its heartbeat runs."""

    wallet: str
    hold_id: str
    used: int
    heartbeat: bool


# -- credits in -------------------------------------------------------------------------------------------


async def grant(world: World, ends: dt.datetime | None = None) -> str:
    w = world.wallet()
    m = world.model[w]
    ext = world.rng.choice(sorted(m.grants)) if m.grants and world.rng.random() < 0.15 else world.new_id("g")
    amount = world.rng.randint(1, 2_000)
    text, _ = await world.call(
        f"grant({w[-4:]}, {ext}, {amount}, ends={ends})",
        w,
        lambda i: i.ledger.grant(w, amount, ext, expires_at=ends),
        lambda: m.grant(ext, amount, world.clock.at, ends),
    )
    return text


async def grant_expiring(world: World) -> str:
    return await grant(world, world.clock.at + dt.timedelta(hours=world.rng.randint(-1, 48)))


async def racing_grants(world: World) -> str:
    """One payment event delivered to two instances at the same moment: granted once."""
    w = world.wallet()
    m = world.model[w]
    ext, amount = world.new_id("race"), world.rng.randint(1, 2_000)
    world.plan.start()
    results = await asyncio.gather(
        *(i.ledger.grant(w, amount, ext) for i in world.instances), return_exceptions=True
    )
    applied = [r for r in results if r is True]
    if len(applied) > 1:
        raise Violation(f"racing grant {ext} applied {len(applied)} times")
    stored = await world.ledger.docs.entry(w, "grant", ext).get()
    if stored.exists:
        m.grant(ext, amount, world.clock.at)
    else:
        world.retries.append(
            Retry(
                f"grant({ext})",
                w,
                lambda i: i.ledger.grant(w, amount, ext),
                lambda: m.grant(ext, amount, world.clock.at),
            )
        )
    return f"racing grants {ext} -> {[shown(r) for r in results]}"


# -- spends -------------------------------------------------------------------------------------------------


async def open_stream(world: World) -> str:
    w = world.wallet()
    m = world.model[w]
    hold_id, want = world.new_id("h"), world.rng.randint(1, 900)
    minimum = world.rng.randint(1, want)
    text, got = await world.call(
        f"reserve({w[-4:]}, {hold_id}, {want}, min={minimum})",
        w,
        lambda i: i.ledger.reserve(w, hold_id, want, minimum),
        lambda: m.reserve(hold_id, want, minimum, world.clock.at, world.ttl),
    )
    if isinstance(got, Hold):
        world.streams.append(Stream(w, hold_id, 0, heartbeat=world.rng.random() < 0.85))
    return text


def pick(world: World) -> Stream | None:
    return world.rng.choice(world.streams) if world.streams else None


async def progress(world: World) -> str:
    """Tokens flow and time passes; a stream with a heartbeat extends its hold before it expires."""
    s = pick(world)
    if s is None:
        return "progress: no stream"
    s.used += world.rng.randint(0, 300)
    world.clock.advance(dt.timedelta(seconds=world.rng.randint(1, int(world.ttl.total_seconds()) // 3)))
    if not s.heartbeat:
        return f"progress({s.hold_id}) without heartbeat -> used {s.used}"
    m = world.model[s.wallet]
    text, _ = await world.call(
        f"extend({s.hold_id})",
        s.wallet,
        lambda i: i.ledger.extend(s.wallet, s.hold_id, int(world.ttl.total_seconds())),
        lambda: m.extend(s.hold_id, world.clock.at + world.ttl),
    )
    return text


async def finish_stream(world: World, s: Stream | None = None) -> str:
    s = s or pick(world)
    if s is None:
        return "finish: no stream"
    world.streams.remove(s)
    m = world.model[s.wallet]
    amount = s.used + world.rng.randint(0, 50)
    text, _ = await world.call(
        f"settle({s.hold_id}, {amount})",
        s.wallet,
        lambda i: i.ledger.settle(s.wallet, s.hold_id, amount),
        lambda: m.settle(s.hold_id, amount, world.clock.at),
    )
    return text


async def void_stream(world: World) -> str:
    s = pick(world)
    if s is None:
        return "void: no stream"
    world.streams.remove(s)
    m = world.model[s.wallet]
    text, _ = await world.call(
        f"void({s.hold_id})",
        s.wallet,
        lambda i: i.ledger.void(s.wallet, s.hold_id),
        lambda: m.void(s.hold_id, world.clock.at),
    )
    return text


async def abandon_stream(world: World) -> str:
    """The instance dies mid-stream: nobody settles; the reconciler releases the hold once it expires."""
    s = pick(world)
    if s is None:
        return "abandon: no stream"
    world.streams.remove(s)
    return f"abandon({s.hold_id})"


async def racing_settles(world: World) -> str:
    """The same settle delivered to two instances at once (a retried task): charged once."""
    s = pick(world)
    if s is None:
        return "racing settles: no stream"
    world.streams.remove(s)
    m, at, amount = world.model[s.wallet], world.clock.at, s.used
    held = m.holds[s.hold_id]
    world.plan.start()
    results = await asyncio.gather(
        *(i.ledger.settle(s.wallet, s.hold_id, amount) for i in world.instances), return_exceptions=True
    )
    stored = await world.ledger.hold(s.wallet, s.hold_id)
    if stored is None:
        raise Violation(f"hold {s.hold_id} vanished")
    # Pending: applied once it is settled. Expired by the reconciler: applied once the late charge shows.
    applied = stored.state != "pending" if held.state == "pending" else stored.charged > 0 or amount == 0
    if applied:
        want = m.settle(s.hold_id, amount, at)
        for r in results:
            if isinstance(r, Hold):
                world.same(f"racing settle({s.hold_id})", r, want)
    else:
        world.retries.append(
            Retry(
                f"settle({s.hold_id})",
                s.wallet,
                lambda i: i.ledger.settle(s.wallet, s.hold_id, amount),
                lambda: m.settle(s.hold_id, amount, world.clock.at),
            )
        )
    return f"racing settles {s.hold_id} -> {[shown(r) for r in results]}"
