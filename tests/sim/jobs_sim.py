"""Jobs in the simulator: the real step runner, charges and reconciler sweep (shared/jobs) on the faulty
Firestore client, with a queue standing in for Cloud Tasks and a job kind whose steps cost what the job's
parameters say (the image kind's name; its steps call no provider).

A job is created as JobService.create does it (the worst case reserved under `job:{id}`, the job written,
step 0 queued). Cloud Tasks delivers each task 1-3 times, one after the other or at the same moment, or
never (the task is lost: the sweep re-drives the step once the job has been quiet for a lease), and
again later (a late duplicate); a step may fail and be retried, the process may die between two writes,
the clock may pass the job's deadline (the sweep fails it), the owner may cancel it.

Checked after each job operation, against the job and its hold as stored: the job's `spent` is the sum
of the costs of the steps it finished (each step counted once), a succeeded job finished every step, a
closed hold charged exactly `spent` (voided with nothing spent) and the model follows it; at the end
every job is finished, its hold closed for its spent, and its usage record says what was charged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.adapters.firestore import TransactionBusy
from shared.jobs.errors import StepFailed
from shared.jobs.kinds import StepResult
from shared.jobs.schemas import Job
from shared.jobs.service import HOLD_MARGIN_S, hold_id
from shared.ledger.errors import LedgerBusy
from shared.ledger.schemas import Hold
from shared.limits.budgets.errors import BudgetExceeded
from shared.usage.recorder import COLLECTION as USAGE
from tests.sim import budgets_sim
from tests.sim.calls import Violation, shown
from tests.sim.faults import CALLER_ERRORS, Crash, FaultPlan
from tests.sim.shards import until_done

if TYPE_CHECKING:
    from tests.sim.world import World

KIND = "image"  # a JobType; the simulator's kind stands in for it
# A task handler's 5xx: Cloud Tasks delivers the task again. TransactionBusy: the job's own transaction
# kept aborting (nothing applied), met at high fault rates (SIM_FAULTS=0.15).
DELIVERY_ERRORS: tuple[type[Exception], ...] = (*CALLER_ERRORS, LedgerBusy, TransactionBusy)


@dataclass
class Task:
    name: str
    payload: dict[str, Any]
    attempts: int = 0


@dataclass
class SimJob:
    wallet: str
    costs: list[int]
    reserved: int = 0
    budget: dict[str, Any] | None = None  # its admission, when Redis counted it
    closed: bool = False
    counted: bool = False  # its charge reached its budget (right after its usage record was written)


@dataclass
class Tasks:
    """Cloud Tasks: a task name is accepted once; a task may be lost when it is created (by the seed)."""

    plan: FaultPlan
    queued: list[Task] = field(default_factory=list)
    done: list[Task] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    async def enqueue(
        self, task_id: str, payload: Mapping[str, Any], schedule_at: dt.datetime | None = None
    ) -> bool:
        if task_id in self.names:
            return False
        self.names.add(task_id)
        if not self.plan.lose(f"task:{task_id.split('-')[-1]}"):
            self.queued.append(Task(task_id, dict(payload)))
        return True


class NoPublisher:
    """Progress messages go nowhere (a lost message loses nobody's progress)."""

    async def publish(
        self, topic: str, data: Mapping[str, Any], attributes: Mapping[str, str] | None = None
    ) -> str:
        return "0"


class SimKind:
    """Each step costs what the job's parameters list; now and then it fails and is retried. `meanwhile`,
    when set, runs (once) while a step works: a slow step, outlived by its lease."""

    def __init__(self, plan: FaultPlan) -> None:
        self._plan = plan
        self.meanwhile: Callable[[], Awaitable[str]] | None = None
        self.happened = ""

    def plan(self, request: Any) -> Any:
        raise NotImplementedError("the simulator creates its jobs itself")

    async def run_step(self, job: Job, step: int) -> StepResult:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            self.happened = await meanwhile()
        if self._plan.provider_down("step"):
            raise StepFailed("simulated: the provider failed", code="step_error", retryable=True)
        return StepResult(cost=int(job.params["costs"][step]))


# -- the operations -----------------------------------------------------------------------------------------


async def create(world: World) -> str:
    rng, w = world.rng, world.wallet()
    m = world.model[w]
    costs = [rng.randint(0, 150) for _ in range(rng.randint(1, 4))]
    price = sum(costs) + rng.randint(0, 100)  # the worst case
    deadline_s = rng.choice([1_800, 7_200, 86_400])  # a lost step is re-driven, or the job runs out
    job_id = f"{world.new_id('job')}-{world.tag}"
    hid, ttl = hold_id(job_id), deadline_s + HOLD_MARGIN_S

    async def reserve(i: Any) -> Hold:
        held: Hold = await i.jobs.payer.reserve(
            w, hid, want=price, minimum=price, ttl_s=ttl, ref=f"job:{KIND}"
        )
        return held

    try:
        admission = await budgets_sim.of(world.rng.choice(world.instances)).admit(
            budgets_sim.budget(w), price
        )
    except BudgetExceeded:
        return f"job create({job_id}, {costs}) -> over budget"
    got, failed = await until_done(world, reserve)
    if not isinstance(got, Hold):
        await budgets_sim.of(world.instances[0]).release(admission)
    world.same(
        f"job reserve({hid}, {price})",
        got,
        m.reserve(hid, price, price, world.clock.at, dt.timedelta(seconds=ttl)),
    )
    if not isinstance(got, Hold):
        return f"job create({job_id}, {costs}) -> {shown(got)}"
    at = world.clock.at
    job = Job(
        id=job_id,
        type=KIND,
        state="queued",
        user_id="u-sim",
        wallet_id=w,
        params={"costs": costs},
        steps=len(costs),
        hold_id=hid,
        reserved=got.amount,
        budget=admission.to_doc() if admission.periods else None,
        deadline=at + dt.timedelta(seconds=deadline_s),
        created_at=at,
        updated_at=at,
    )
    parts = world.instances[0].jobs
    await parts.repo.create(job)
    await parts.queue.enqueue(f"job-{job_id}-0", {"job_id": job_id, "step": 0})
    await until_done(world, lambda i: i.jobs.repo.mark_enqueued(job_id, 0))
    world.jobs[job_id] = SimJob(w, costs, got.amount, job.budget)
    return f"job create({job_id}, {costs}, reserved {got.amount}) after {failed} failed"


async def run_once(world: World, task: Task) -> str:
    """One delivery of `task` to a random instance: its HTTP status, or "crash"."""
    instance = world.rng.choice(world.instances)
    p = task.payload
    try:
        out = await instance.runner.run(p["job_id"], p["step"], task.attempts + 1, p.get("poll", 0))
    except Crash:
        return "crash"
    except DELIVERY_ERRORS:
        return "500"
    return f"{out.status} {out.result}"


async def deliver(world: World, task: Task | None = None) -> str:
    """Cloud Tasks delivers a queued task 1-3 times: one after the other or at the same moment."""
    if task is None:
        if not world.tasks.queued:
            return "job deliver: nothing queued"
        task = world.rng.choice(world.tasks.queued)
    copies = world.rng.choice([1, 1, 1, 2, 3])
    together = copies > 1 and world.rng.random() < 0.5
    world.plan.start()
    world.plan.crashing = True
    try:
        if together:
            answers = list(await asyncio.gather(*(run_once(world, task) for _ in range(copies))))
        else:
            answers = [await run_once(world, task) for _ in range(copies)]
    finally:
        world.plan.crashing = False
    task.attempts += copies
    if any(a.startswith("200") for a in answers) and task in world.tasks.queued:
        world.tasks.queued.remove(task)
        world.tasks.done.append(task)
    await check(world, task.payload["job_id"])
    how = "together" if together else "in turn"
    return f"job task {task.name} x{copies} {how} -> {sorted(answers)} {world.plan.current}"


async def slow(world: World) -> str:
    """A step so slow that its lease runs out: Cloud Tasks delivers the task again meanwhile, that
    delivery takes the lease and finishes the step; then the slow one's result comes and must change
    nothing (the step is counted once)."""
    if not world.tasks.queued:
        return "job slow: nothing queued"
    task = world.rng.choice(world.tasks.queued)

    async def meanwhile() -> str:
        world.clock.advance(dt.timedelta(seconds=world.instances[0].jobs.settings.jobs_step_lease_s + 1))
        return await run_once(world, task)

    world.kind.meanwhile = meanwhile
    world.kind.happened = "(the step did not run)"
    world.plan.start()
    answer = await run_once(world, task)
    world.kind.meanwhile = None
    task.attempts += 2
    if answer.startswith("200") and task in world.tasks.queued:
        world.tasks.queued.remove(task)
        world.tasks.done.append(task)
    await check(world, task.payload["job_id"])
    return f"job slow {task.name} -> {answer}, meanwhile {world.kind.happened} {world.plan.current}"


async def late(world: World) -> str:
    """A task delivered long after it was done (a duplicate Cloud Tasks kept): it changes nothing."""
    if not world.tasks.done:
        return "job late: nothing delivered"
    task = world.rng.choice(world.tasks.done)
    world.plan.start()
    answer = await run_once(world, task)
    await check(world, task.payload["job_id"])
    return f"job late {task.name} -> {answer} {world.plan.current}"


async def cancel(world: World) -> str:
    """The owner cancels (JobService.cancel: the job finished as cancelled, then its hold closed),
    retried by the client until it goes through."""
    if not world.jobs:
        return "job cancel: no job"
    job_id = world.rng.choice(list(world.jobs))

    async def call(i: Any) -> str:
        job, _ = await i.jobs.repo.finish(job_id, "cancelled")
        if job is not None and job.state == "cancelled":
            await i.jobs.close_hold(job)
        return job.state if job is not None else "missing"

    state, failed = await until_done(world, call)
    await check(world, job_id)
    return f"job cancel({job_id}) -> {state} after {failed} failed"


async def sweep(world: World) -> str:
    """The reconciler's job sweep: jobs past their deadline fail (charged what they spent), stuck steps
    are queued again."""
    world.plan.start()
    try:
        report = await world.rng.choice(world.instances).sweeper.sweep(limit=1_000)
        text = f"expired {report.expired}, re-driven {report.redriven}"
    except DELIVERY_ERRORS:
        text = "error"
    for job_id in world.jobs:
        await check(world, job_id)
    return f"job sweep -> {text} {world.plan.current}"


# -- the checks ---------------------------------------------------------------------------------------------


async def check(world: World, job_id: str) -> None:
    """The job's spent against its finished steps; its hold, once closed, against the model."""
    sim = world.jobs.get(job_id)
    if sim is None:
        return
    job = await world.instances[0].jobs.repo.get(job_id)
    if job is None:
        raise Violation(f"job {job_id} vanished")
    if job.spent != sum(sim.costs[: job.step]):
        raise Violation(f"job {job_id} spent {job.spent} after {job.step} steps of {sim.costs}")
    if job.state == "succeeded" and job.step != len(sim.costs):
        raise Violation(f"job {job_id} succeeded after {job.step} of {len(sim.costs)} steps")
    m = world.model[sim.wallet]
    held = m.holds[job.hold_id]
    doc = (await world.ledger.docs.hold(sim.wallet, job.hold_id).get()).to_dict() or {}
    closed = doc.get("state") in ("settled", "voided") and held.state == "pending"
    late = doc.get("late_charged") is not None and held.state == "expired" and held.late is None
    if (closed or late) and not job.finished:
        raise Violation(f"job {job_id} is {job.state} and its hold is {doc.get('state')}")
    if closed or late:
        want = (
            m.settle(job.hold_id, job.spent, world.clock.at)
            if job.spent > 0
            else m.void(job.hold_id, world.clock.at)
        )
        sim.closed = True
        got = (doc["state"], doc.get("late_charged") if late else doc["charged"])
        if (
            want is None
            or got != (want.state, want.shown_charge)
            or want.shown_charge != min(job.spent, held.amount)
        ):
            raise Violation(f"job {job_id} (spent {job.spent}): hold {got}, the model says {shown(want)}")

    if sim.closed and not sim.counted:
        usage = (await world.db.collection(USAGE).document(job.hold_id).get()).to_dict()
        if usage is not None:  # close_hold wrote it, then settled the budget: nothing can fail between
            sim.counted = True
            budgets_sim.charged(world, job_id, sim.budget, int(usage["credits"]))
        elif m.holds[job.hold_id].shown_charge == 0:
            sim.counted = True  # nothing charged: no record, the admission released


async def drain(world: World) -> None:
    """The end, with no faults: every queued task delivered, every job past its deadline swept; then every
    job is finished, its hold closed for what it spent, and its usage record says so."""
    for _ in range(20):
        while world.tasks.queued:
            world.recent.append(await deliver(world, world.tasks.queued[0]))
        world.clock.advance(dt.timedelta(hours=2))  # past every deadline and step lease
        world.recent.append(await sweep(world))
        if not world.tasks.queued:
            break
    for job_id, sim in world.jobs.items():
        job = await world.instances[0].jobs.repo.get(job_id)
        held = world.model[sim.wallet].holds[hold_id(job_id)]
        if job is None or not job.finished or held.state == "pending":
            raise Violation(f"job {job_id} ended {job and job.state} with its hold {held.state}")
        usage = (await world.db.collection(USAGE).document(hold_id(job_id)).get()).to_dict()
        charged = held.shown_charge
        if charged != (usage or {}).get("credits", 0) or charged != min(job.spent, held.amount):
            raise Violation(f"job {job_id} spent {job.spent}, charged {charged}, usage record {usage}")
