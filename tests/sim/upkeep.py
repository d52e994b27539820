"""The platform around the operations: failed deliveries coming again, the clock moving, the reconciler's
hold and lot sweeps, and the end of a run (every delivery retried and every sweep run, fault-free)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from tests.sim import audio_sim, jobs_sim, leases_sim, shards, ssl_sim, storage_sim, streams, stripe_sim
from tests.sim.calls import Violation, shown

if TYPE_CHECKING:
    from tests.sim.world import World


async def retry(world: World) -> str:
    """A delivery that failed comes again (Cloud Tasks, a webhook sender, a client's retry)."""
    if not world.retries:
        return "retry: nothing to retry"
    r = world.retries.pop(world.rng.randrange(len(world.retries)))
    text, _ = await world.call(f"{r.what} (again)", r.wallet, r.action, r.expect, r.view)
    return text


async def tick(world: World) -> str:
    """Time passes. Streams with a heartbeat end before a long pause (a chat does not last days);
    one without (its heartbeat died) lives on and may be settled after its hold expired."""
    delta = dt.timedelta(minutes=world.rng.choice([1, 10, 30, 60, 600, 1_440, 2_880]))
    if delta >= world.ttl / 3:
        for s in [s for s in world.streams if s.heartbeat]:
            await streams.finish_stream(world, s)
        for ws in list(world.shard_streams):
            await shards.finish_stream(world, ws)
    world.clock.advance(delta)
    return f"tick {delta} -> {world.clock.at}"


async def sweep_holds(world: World) -> str:
    """The reconciler: every pending hold past its expiry is released, unless a fault stops one (then
    the next sweep does it)."""
    at = world.clock.at
    world.plan.start()
    await world.ledger.expire_due()
    expired = 0
    for w, m in world.model.items():
        for hold_id in m.due_holds(at):
            stored = await world.ledger.hold(w, hold_id)
            if stored is not None and stored.state == "expired":
                expired += m.expire_hold(hold_id, at)
            elif "unavailable" not in world.plan.current:
                raise Violation(
                    f"the sweep left due hold {hold_id} {shown(stored)} with no fault to excuse it"
                )
    await shards.swept(world, at)
    return f"sweep holds -> {expired} expired, faults {world.plan.current}"


async def sweep_lots(world: World) -> str:
    at = world.clock.at
    world.plan.start()
    await world.ledger.expire_lots()
    for w, m in world.model.items():
        if not m.due(at):
            continue
        doc = (await world.ledger.docs.wallet(w).get()).to_dict() or {}
        if not any(lot["expires_at"] <= at for lot in doc.get("lots", [])):
            m.expire(at)
        elif "unavailable" not in world.plan.current:
            raise Violation(f"the lot sweep left due lots in {w} with no fault to excuse it")
    return f"sweep lots -> faults {world.plan.current}"


async def drain(world: World) -> None:
    """The end of the run: every failed delivery comes again, and the reconciler runs, fault-free."""
    world.plan.enabled = False
    while world.retries:
        world.recent.append(await retry(world))
    for s in list(world.streams):
        world.recent.append(await streams.finish_stream(world, s))
    for ws in list(world.shard_streams):
        world.recent.append(await shards.finish_stream(world, ws))
    await stripe_sim.drain(world)
    await ssl_sim.drain(world)
    await jobs_sim.drain(world)
    await audio_sim.drain(world)
    await storage_sim.drain(world)
    await leases_sim.drain(world)
    world.clock.advance(world.ttl * 2)
    world.recent.append(await sweep_holds(world))
