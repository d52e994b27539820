"""Workspace wallets in the simulator: one balance over several shards (shared/ledger/shards.py), spent by
two instances with different windows, so reservations land on different shards and credits move between
them. The model is the workspace's whole balance: a reservation gets min(want, what all the shards have
together), and transfers between shards change no total.

Debt: a settle after its hold expired charges that hold's shard, whose credits may not cover it; the
debt sits on that shard until a reservation pays it from all the shards (ShardedWallets.pay_debts). So
the model keeps the workspace's net balance (available - debt), which transfers and debt payments do not
change, and knows the exact split only right after a reservation: debt max(-net, 0), the rest available.

Workspace operations are several commits (a part per shard; transfers before a hold). The platform
delivers them again at once when one fails (a task retried with a short backoff), until one goes
through; every one is idempotent, so the outcome is the model's whatever failed on the way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.ledger.errors import InsufficientCredits, PaymentDebt
from shared.ledger.schemas import Hold
from shared.ledger.wallet_ids import shard_wallets
from tests.sim.calls import Violation, shown
from tests.sim.faults import CALLER_ERRORS
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from tests.sim.world import Instance, World

SHARDS = 4


@dataclass
class ShardedModel:
    count: int = SHARDS
    net: int = 0  # available - debt, over all the shards
    reserved: int = 0
    granted: dict[str, bool] = field(default_factory=dict)  # external id -> every part granted
    amounts: dict[str, int] = field(default_factory=dict)  # external id -> the grant's whole amount
    holds: dict[str, ModelHold] = field(default_factory=dict)

    def grant(self, ext: str) -> int:
        if self.granted.get(ext):
            return 0
        self.granted[ext] = True
        self.net += self.amounts[ext]
        return self.amounts[ext]

    def reserve(self, hold_id: str, want: int, minimum: int, at: dt.datetime, ttl: dt.timedelta) -> Any:
        """A hold of min(want, what is left after paying the debt), or why it is refused."""
        if hold_id in self.holds:
            return self.holds[hold_id]
        if self.net < 0:
            return "debt"
        if self.net < minimum:
            return "insufficient"
        amount = min(want, self.net)
        self.net -= amount
        self.reserved += amount
        hold = self.holds[hold_id] = ModelHold(amount, at + ttl, {})
        return hold

    def finish(self, hold_id: str, state: str, charge: int) -> ModelHold | None:
        held = self.holds.get(hold_id)
        if held is None:
            return None
        if held.state == "expired" and state == "settled" and charge > 0 and held.late is None:
            held.late = min(charge, held.amount)  # charged after the reconciler released it
            self.net -= held.late
        if held.state == "pending":
            held.state, held.charged = state, min(charge, held.amount) if state == "settled" else 0
            self.reserved -= held.amount
            self.net += held.amount - held.charged
        return held


@dataclass
class ShardStream:
    base: str
    hold_id: str
    used: int


def base(world: World) -> str:
    return world.rng.choice(sorted(world.sharded))


async def until_done(world: World, call: Callable[[Instance], Awaitable[Any]]) -> tuple[Any, int]:
    """Deliver `call` to a random instance again and again until no fault stops it: (its answer, how
    many deliveries failed). The ledger's refusals are answers."""
    failed = 0
    while failed < 100:
        world.plan.start()
        try:
            return await call(world.rng.choice(world.instances)), failed
        except (InsufficientCredits, PaymentDebt) as refusal:
            return refusal, failed
        except CALLER_ERRORS:
            failed += 1
    raise Violation("a workspace operation failed 100 deliveries in a row")


async def grant(world: World) -> str:
    """Credits for a workspace, spread over its shards, each part once (a replay adds nothing)."""
    b = base(world)
    m = world.sharded[b]
    if m.amounts and world.rng.random() < 0.15:
        ext = world.rng.choice(sorted(m.amounts))
    else:
        ext = world.new_id("wsg")
        m.amounts[ext] = world.rng.randint(1, 4_000)
    amount = m.amounts[ext]
    added, failed = await until_done(world, lambda i: i.shards.grant(b, m.count, amount, ext))
    want = m.grant(ext)
    if failed == 0 and added != want:  # after a failed delivery the last one adds only the rest
        raise Violation(f"ws grant({ext}) added {added}, the model expects {want}")
    return f"ws grant({b[-4:]}, {ext}, {amount}) -> {added} after {failed} failed"


async def open_stream(world: World, b: str | None = None, want: int = 0) -> str:
    b = b or base(world)
    m = world.sharded[b]
    hold_id, want = world.new_id("wsh"), want or world.rng.randint(1, 1_500)
    minimum = world.rng.randint(1, min(want, 1_500))
    text = f"ws reserve({b[-4:]}, {hold_id}, {want}, min={minimum}) of net {m.net}"
    got, failed = await until_done(world, lambda i: i.shards.reserve(b, m.count, hold_id, want, minimum))
    expected = m.reserve(hold_id, want, minimum, world.clock.at, world.ttl)
    world.same(text, got, expected)
    await check_split(world, b)
    if isinstance(got, Hold):
        world.shard_streams.append(ShardStream(b, hold_id, 0))
    return f"{text} -> {shown(got)} after {failed} failed"


async def check_split(world: World, b: str) -> None:
    """Right after a reservation the debt is paid from every shard: what is left of it is what the
    workspace cannot pay."""
    m = world.sharded[b]
    states = await world.ledger.docs.states(shard_wallets(b, m.count))
    debt = sum(s.debt for s in states)
    if debt != max(-m.net, 0):
        raise Violation(
            f"workspace {b} still owes {debt} after a reservation; the model says {max(-m.net, 0)}"
        )


async def finish_stream(world: World, s: ShardStream | None = None, void: bool = False) -> str:
    if s is None:
        if not world.shard_streams:
            return "ws finish: no stream"
        s = world.rng.choice(world.shard_streams)
    world.shard_streams.remove(s)
    m = world.sharded[s.base]
    amount = 0 if void else s.used + world.rng.randint(0, 1_000)
    state = "voided" if void else "settled"

    async def call(i: Instance) -> Hold:
        if void:
            return await i.shards.void(s.base, m.count, s.hold_id)
        return await i.shards.settle(s.base, m.count, s.hold_id, amount)

    got, failed = await until_done(world, call)
    text = f"ws {state[:-1]}({s.hold_id}, {amount})"
    world.same(text, got, m.finish(s.hold_id, state, amount))
    return f"{text} -> {shown(got)} after {failed} failed"


async def void_stream(world: World) -> str:
    if not world.shard_streams:
        return "ws void: no stream"
    return await finish_stream(world, world.rng.choice(world.shard_streams), void=True)


async def progress(world: World) -> str:
    if not world.shard_streams:
        return "ws progress: no stream"
    s = world.rng.choice(world.shard_streams)
    s.used += world.rng.randint(0, 400)
    return f"ws progress({s.hold_id}) -> used {s.used}"


async def abandon_stream(world: World) -> str:
    if not world.shard_streams:
        return "ws abandon: no stream"
    s = world.rng.choice(world.shard_streams)
    world.shard_streams.remove(s)
    return f"ws abandon({s.hold_id})"


async def late_settle(world: World) -> str:
    """A stream whose heartbeat died: the reconciler releases its hold, another spend takes everything the
    workspace has, then the first stream's settle arrives and finds its shard short (debt)."""
    if not world.shard_streams:
        return "ws late settle: no stream"
    s = world.rng.choice(world.shard_streams)
    m = world.sharded[s.base]
    m_hold = m.holds[s.hold_id]
    world.clock.advance(m_hold.expires_at - world.clock.at + dt.timedelta(seconds=1))
    world.recent.append(await world.sweep_holds())
    world.recent.append(await open_stream(world, s.base, want=10**9))
    s.used = max(s.used, m_hold.amount)
    return await finish_stream(world, s)


async def swept(world: World, at: dt.datetime) -> None:
    """After the reconciler ran: the workspace holds it had to expire are expired, unless a fault
    stopped one."""
    for b, m in world.sharded.items():
        for hold_id, held in m.holds.items():
            if held.state != "pending" or held.expires_at > at:
                continue
            stored = await world.ledger_shards.find(b, m.count, hold_id)
            if stored is not None and stored.state == "expired":
                m.finish(hold_id, "expired", 0)
            elif "unavailable" not in world.plan.current:
                raise Violation(f"the sweep left due workspace hold {hold_id} ({stored}) with no fault")
