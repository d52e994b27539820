"""Spend budgets (shared/limits/budgets, in Redis) on the simulator's jobs, with Redis down for a stretch or
losing its data (FLUSHDB).

The design (shared/limits/budgets/service.py): the ledger in Firestore is the truth for money and never
reads Redis; a budget is a cap on top of it. An unreachable Redis lets jobs through (the admission counts
nothing) and loses the settles it misses; lost data restarts the counters. So, whatever Redis does, the
ledger stays the model's (checked after every step), and a budget's spent never exceeds what the ledger
charged the subject's jobs admitted in that period; with no Redis fault while any of those jobs lived,
it is exactly that (until its counters expire, a day after the period ends).

Redis is the devstack's (REDIS_URL, its database 15, so a FLUSHDB loses only the simulator's counters) or,
under `make sim`, an in-process fakeredis (the devstack's own fallback when redis-server is missing).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.limits.budgets.repository import GRACE
from shared.limits.budgets.schemas import Admission, Budget, Period
from shared.limits.budgets.service import Budgets
from tests.sim.calls import Violation

if TYPE_CHECKING:
    from tests.sim.world import Instance, World

DAILY, MONTHLY = 3_000, 40_000  # a wallet's caps: jobs meet them now and then


@dataclass
class Ledgered:
    """What the ledger charged, by (subject, period id), for jobs whose admission counted in that period;
    the periods a Redis fault may have touched."""

    charged: dict[tuple[str, str], int] = field(default_factory=dict)
    periods: dict[tuple[str, str], Period] = field(default_factory=dict)
    tainted: set[tuple[str, str]] = field(default_factory=set)
    tainted_jobs: set[str] = field(default_factory=set)
    gone: set[tuple[str, str]] = field(default_factory=set)
    down_until: dt.datetime | None = None

    def down(self, at: dt.datetime) -> bool:
        return self.down_until is not None and at < self.down_until


def client(is_down: Callable[[], bool]) -> Redis:
    """A Redis client that fails every command while `is_down()`."""
    url = os.environ.get("REDIS_URL")
    if url:
        base: type[Redis] = Redis
    else:
        import fakeredis

        base = fakeredis.FakeAsyncRedis

    class Switchable(base):  # type: ignore[valid-type,misc]
        async def execute_command(self, *args: Any, **options: Any) -> Any:
            if is_down():
                raise RedisConnectionError("simulated: Redis is down")
            return await super().execute_command(*args, **options)

    if url:
        return Switchable.from_url(url.rsplit("/", 1)[0] + "/15")  # type: ignore[no-any-return]
    return Switchable()  # type: ignore[no-any-return]


def of(instance: Instance) -> Budgets:
    assert instance.jobs.budgets is not None
    return instance.jobs.budgets


def budget(wallet: str) -> Budget:
    return Budget(f"user:{wallet}", DAILY, MONTHLY)


def taint_live_jobs(world: World) -> None:
    for job_id, sim in world.jobs.items():
        if not sim.counted:
            world.budgets.tainted_jobs.add(job_id)
    world.budgets.tainted.update(world.budgets.charged)


def charged(world: World, job_id: str, doc: dict[str, Any] | None, amount: int) -> None:
    """The ledger charged a job's hold: what its admission's periods should count."""
    if doc is None or amount <= 0:
        return
    admission = Admission.from_doc(doc)
    for p in admission.periods:
        key = (admission.subject, p.id)
        if world.clock.at >= p.end + GRACE:  # its counters expired a day after the period: a settle ends them
            world.budgets.gone.add(key)
        world.budgets.periods[key] = p
        world.budgets.charged[key] = world.budgets.charged.get(key, 0) + amount
        if job_id in world.budgets.tainted_jobs:
            world.budgets.tainted.add(key)


# -- the operations -----------------------------------------------------------------------------------------


async def outage(world: World) -> str:
    """Redis is unreachable for a stretch of the clock."""
    minutes = world.rng.randint(1, 180)
    world.budgets.down_until = world.clock.at + dt.timedelta(minutes=minutes)
    taint_live_jobs(world)
    return f"redis down for {minutes} min"


async def flush(world: World) -> str:
    """Redis loses its data."""
    world.budgets.down_until = None
    taint_live_jobs(world)
    await world.redis.flushdb()
    return "redis flushdb"


def down(world: World) -> bool:
    return world.budgets.down(world.clock.at)


async def audit(world: World) -> None:
    """Every budget counter against what the ledger charged in its period."""
    if down(world):
        return
    budgets = of(world.instances[0])
    for (subject, period_id), want in world.budgets.charged.items():
        if (subject, period_id) in world.budgets.gone:
            continue
        spent, _ = await budgets.usage(subject, world.budgets.periods[(subject, period_id)])
        tainted = (subject, period_id) in world.budgets.tainted
        if spent > want or (spent != want and not tainted):
            raise Violation(
                f"budget {subject} {period_id} counts {spent} spent; the ledger charged {want}"
                + (" (Redis failed meanwhile: at most that)" if tainted else "")
            )
