"""One simulation run: a seed, a length and a fault rate in; operations, faults and violations out."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass

from shared import clock as shared_clock
from shared.adapters import firestore as firestore_adapter
from shared.jobs import repository as jobs_repository
from shared.jobs import sweep as jobs_sweep
from shared.jobs.parts import JobParts
from shared.jobs.progress import ProgressEvents
from shared.jobs.repository import JobRepository
from shared.jobs.runner import StepRunner
from shared.jobs.sweep import JobSweeper
from shared.knowledge import repository as knowledge_repository
from shared.knowledge import storage_charge
from shared.ledger import shards as shards_module
from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.limits.budgets.service import Budgets
from shared.purchases import orders as orders_module
from shared.purchases import webhook_events
from shared.purchases.payments import Purchases
from shared.settings import Settings
from shared.spending import payer as payer_module
from shared.spending.payer import Payer
from shared.usage import recorder as usage_recorder
from shared.usage.recorder import UsageRecorder
from tests.sim import audit, budgets_sim, embeddings_sim, hooks, jobs_sim, storage_sim
from tests.sim.calls import Violation
from tests.sim.faults import RANDOM_PART, FaultPlan, FaultyClient
from tests.sim.shards import SHARDS
from tests.sim.world import Instance, World
from tests.support.ledger import close_client
from tests.support.lots import Clock

TTL_S = 900
WALLETS = 5
WORKSPACES = 2
FULL_AUDIT_EVERY = 1_000
# Where the run's clock starts, whatever the day it runs: budgets' days, members' months and storage days
# begin at the same steps in every run of a seed (from the wall clock, a seed did not replay). Ahead of
# the wall clock, as a clock that only moves forward from it always was.
START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


async def no_pause(seconds: float) -> None:
    """The payer's wait between two tries of a finish, in the simulator: other tasks run, no time passes
    (the run's clock moves only by its `tick` operations)."""
    await asyncio.sleep(0)


def full_audit_due(done: int) -> bool:
    """Every FULL_AUDIT_EVERY steps up to 10,000 (a CI run's), then at every multiple of the steps' order
    of magnitude (every 10,000 up to 100,000, every 100,000 up to 1,000,000...) and at the end. A full
    audit reads every entry and hold so far, so it costs in proportion to the steps; at a fixed interval
    a million-step run would spend most of its time in them (the per-step audit is the same throughout)."""
    every = FULL_AUDIT_EVERY if done <= 10 * FULL_AUDIT_EVERY else 10 ** (len(str(done)) - 1)
    return done % every == 0


@dataclass
class Result:
    seed: int
    operations: int
    faults: int
    violation: str | None
    seconds: float
    counts: dict[str, int]
    fault_counts: dict[str, int]
    trace: list[str]  # every step's outcome, with SIM_TRACE set (to diff two runs of a seed)

    def summary(self) -> str:
        violations = 0 if self.violation is None else 1
        return (
            f"{self.operations} operations, {self.faults} faults injected, {violations} violations, "
            f"seed {self.seed}"
        )


async def simulate(seed: int, operations: int, fault_rate: float) -> Result:
    """Run against the Firestore emulator named by the environment; the clock is ours for the run."""
    rng = random.Random(seed)
    random.seed(seed)  # the shards' own random choices (sources of a transfer), so a seed replays
    plan = FaultPlan(seed, fault_rate)
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    db = FaultyClient(plan, project=project)
    settings = Settings(GOOGLE_CLOUD_PROJECT=project, hold_ttl_s=TTL_S)
    run_id = uuid.uuid4().hex[:8]
    wallets = [f"w-sim-{run_id}-{i}" for i in range(WALLETS)]
    clock = Clock()
    clock.at = START
    keys, gateway, tasks, kind = (
        hooks.Keys(),
        hooks.Gateway(plan, {}),
        jobs_sim.Tasks(plan),
        jobs_sim.SimKind(plan),
    )
    ledgered = budgets_sim.Ledgered()
    redis = budgets_sim.client(lambda: ledgered.down(clock.at))
    instances = []
    for home in (0, 2):  # two instances whose windows of shards differ
        ledger = Ledger(db, settings)
        purchases = Purchases(db, ledger)
        wallets_of = ShardedWallets(ledger, home, window=2)
        webhooks, orders = hooks.build(db, settings, ledger, purchases, wallets_of, keys, gateway, SHARDS)
        progress = ProgressEvents(jobs_sim.NoPublisher(), settings.jobs_topic)
        budgets = Budgets(redis, None, None, settings, now=clock)  # type: ignore[arg-type] # no plans: caps given
        payer = Payer(ledger)
        parts = JobParts(JobRepository(db), payer, tasks, progress, settings, UsageRecorder(db), budgets)
        runner = StepRunner(parts, {jobs_sim.KIND: kind})  # type: ignore[dict-item]
        seen = embeddings_sim.SeenPayer(ledger)
        embedder = embeddings_sim.ScriptedEmbedder(plan)
        embeddings = embeddings_sim.build(seen, UsageRecorder(db), embedder)
        instances.append(
            Instance(
                ledger,
                purchases,
                wallets_of,
                webhooks,
                orders,
                parts,
                runner,
                JobSweeper(parts),
                seen,
                embedder,
                embeddings,
            )
        )
    workspaces = [f"ws-sim{run_id}{i}" for i in range(WORKSPACES)]
    world = World(
        rng,
        plan,
        instances,
        clock,
        wallets,
        dt.timedelta(seconds=TTL_S),
        run_id,
        workspaces,
        db,
        keys,
        gateway,
        tasks,
        kind,
        redis,
        ledgered,
        storage_sim.stores_service(db),
    )
    # Every module that reads the time reads ours (some imported `now` by name).
    patched = [
        (m, m.now)
        for m in (
            shared_clock,
            webhook_events,
            orders_module,
            jobs_repository,
            jobs_sweep,
            usage_recorder,
            storage_charge,
        )
    ]
    for module, _ in patched:
        setattr(module, "now", clock)  # noqa: B010
    # The run's vector stores in a collection of their own: the storage sweep charges every store it
    # finds, and must neither charge other tests' stores nor depend on them (a seed replays).
    collections = [(m, m.STORES) for m in (knowledge_repository, storage_charge)]
    for module, _ in collections:
        setattr(module, "STORES", f"vector_stores_sim{run_id}")  # noqa: B010
    real_pause = payer_module.pause
    payer_module.pause = no_pause  # a finish retried after a fault waits on no wall clock
    # Backoff jitter draws from a generator of its own: how often it draws depends on timing (the
    # emulator's aborts), and from the seeded global one it would shift the shards' choices.
    # The shards' own choices (sources of a transfer) draw from one seeded for the run alone: other
    # libraries draw from the global generator as timing has it (retry jitter), and shifted these.
    jittered = [(m, m.random) for m in (firestore_adapter, payer_module, shards_module)]
    for module, _ in jittered:
        setattr(module, "random", random.Random())  # noqa: B010
    setattr(shards_module, "random", random.Random(seed))  # noqa: B010
    started = time.monotonic()
    trace: list[str] | None = [] if os.environ.get("SIM_TRACE") else None  # each step, to diff two runs
    report_every = int(os.environ.get("SIM_PROGRESS") or 0)  # a line on stderr every N steps (long runs)
    done, violation = 0, None
    try:
        for done in range(1, operations + 1):
            text = await world.step()
            if trace is not None:
                trace.append(f"{done} {RANDOM_PART.sub('#', text)}")
            await audit.after_step(db, world)
            if full_audit_due(done):
                await audit.full(db, world)
            if report_every and done % report_every == 0:
                took = time.monotonic() - started
                sys.stderr.write(f"{done} operations, {plan.total} faults, {took:.0f} s\n")
        await world.drain()
        await audit.after_step(db, world)
        await audit.full(db, world)
    except (Violation, AssertionError) as exc:
        recent = "\n  ".join(world.recent)
        replay = f"SIM_SEED={seed} SIM_OPS={operations} SIM_FAULTS={fault_rate} make sim"
        violation = f"step {done}: {exc}\nlast operations:\n  {recent}\nreplay: {replay}"
    finally:
        for module, real_now in patched:
            setattr(module, "now", real_now)  # noqa: B010
        for module, real_name in collections:
            setattr(module, "STORES", real_name)  # noqa: B010
        payer_module.pause = real_pause
        for module, real_random in jittered:
            setattr(module, "random", real_random)  # noqa: B010
        await close_client(db)
        await redis.aclose()
    seconds = time.monotonic() - started
    return Result(seed, done, plan.total, violation, seconds, world.counts, plan.injected, trace or [])
