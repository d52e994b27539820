"""The reconciler fails a job past its deadline and closes its hold; when closing fails half-way, the job
is no longer unfinished and no later sweep reads it again. Found by the simulator (tests/sim,
SIM_SEED=2 SIM_OPS=3000 SIM_FAULTS=0.2): the job's hold stayed open until the ledger expired it, and what
its finished steps spent was never charged. The sweep now queues a task first that finishes the work, and
when that task is lost too (the simulator loses tasks as it is created: SIM_SEED=11 SIM_OPS=10000 met
both at once), a later sweep closes the hold of a job marked `closing` once it has been quiet for a
step lease."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from google.api_core.exceptions import ServiceUnavailable
from google.cloud import firestore

from shared.clock import now
from shared.jobs.kinds import StepResult
from shared.jobs.parts import JobParts
from shared.jobs.progress import ProgressEvents
from shared.jobs.repository import JobRepository
from shared.jobs.runner import StepRunner
from shared.jobs.schemas import Job
from shared.jobs.service import hold_id
from shared.jobs.sweep import JobSweeper
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Hold
from shared.spending.payer import Payer
from tests.support.ledger import check_invariants, ledger_settings

pytestmark = pytest.mark.anyio

SPENT = 120


class Tasks:
    def __init__(self) -> None:
        self.queued: dict[str, dict[str, Any]] = {}

    async def enqueue(
        self, task_id: str, payload: Mapping[str, Any], schedule_at: dt.datetime | None = None
    ) -> bool:
        if task_id in self.queued:
            return False
        self.queued[task_id] = dict(payload)
        return True


class Silent:
    async def publish(
        self, topic: str, data: Mapping[str, Any], attributes: Mapping[str, str] | None = None
    ) -> str:
        return "0"


class FailingOnce(Payer):
    """The first settle fails as Firestore can (the commit did not go through)."""

    failed = False

    async def settle(self, wallet_id: str, hold_id: str, amount: int) -> Hold:
        if not self.failed:
            self.failed = True
            raise ServiceUnavailable("the commit did not reach Firestore")
        return await super().settle(wallet_id, hold_id, amount)


class NoSteps:
    async def run_step(self, job: Job, step: int) -> StepResult:
        raise AssertionError("a job past its deadline runs no step")


async def failed_unclosed(db: firestore.AsyncClient) -> tuple[Ledger, JobParts, Tasks, Job, Hold]:
    """A job past its deadline whose expiry by the sweep failed to close its hold (the settle failed)."""
    settings = ledger_settings()
    ledger = Ledger(db, settings)
    wallet, job_id = f"w-sweep-{uuid.uuid4().hex}", uuid.uuid4().hex
    await ledger.grant(wallet, 1_000, f"g-{job_id}")
    hold = await ledger.reserve(wallet, hold_id(job_id), want=300, minimum=300, ttl_s=3_600)
    at = now()
    job = Job(
        id=job_id,
        type="image",
        state="running",
        user_id="u-sweep",
        wallet_id=wallet,
        params={},
        step=1,
        steps=2,
        hold_id=hold.id,
        reserved=hold.amount,
        spent=SPENT,
        enqueued=1,
        deadline=at - dt.timedelta(seconds=1),
        created_at=at - dt.timedelta(hours=1),
        updated_at=at - dt.timedelta(hours=1),
    )
    tasks = Tasks()
    parts = JobParts(JobRepository(db), FailingOnce(ledger), tasks, ProgressEvents(Silent(), "t"), settings)
    await parts.repo.create(job)

    # The sweep's expiry of this one job (sweep() reads every job of the emulator; its loop logs the
    # failure and goes on to the next job).
    with pytest.raises(ServiceUnavailable):
        await JobSweeper(parts)._expire(job)
    stored = await parts.repo.get(job_id)
    assert stored is not None and stored.state == "failed" and stored.closing
    pending = await ledger.hold(wallet, hold.id)
    assert pending is not None and pending.state == "pending"
    return ledger, parts, tasks, stored, hold


async def test_a_job_the_sweep_failed_gets_its_hold_closed_when_closing_failed(
    db: firestore.AsyncClient,
) -> None:
    ledger, parts, tasks, job, hold = await failed_unclosed(db)
    job_id, wallet = job.id, job.wallet_id
    # No later sweep reads this job again: the task queued first is what closes its hold.
    assert all(j.id != job_id for j in await parts.repo.unfinished("deadline", now(), 1_000))

    ((name, payload),) = tasks.queued.items()
    assert name.endswith("-deadline")
    outcome = await StepRunner(parts, {"image": NoSteps()}).run(job_id, payload["step"], 1)  # type: ignore[dict-item]
    assert (outcome.status, outcome.result) == (200, "finished")
    closed = await ledger.hold(wallet, hold.id)
    assert closed is not None and (closed.state, closed.charged) == ("settled", SPENT)
    state = await check_invariants(db, wallet)
    assert (state["settled"], state["available"], state["reserved"]) == (SPENT, 1_000 - SPENT, 0)
    assert (await parts.repo.get(job_id) or job).closing is False


async def test_when_the_task_is_lost_too_a_later_sweep_closes_the_hold(db: firestore.AsyncClient) -> None:
    ledger, parts, tasks, job, hold = await failed_unclosed(db)
    tasks.queued.clear()  # the task that was to finish the close never arrives
    sweeper = JobSweeper(parts)
    await sweeper.sweep(limit=1_000)  # too soon: the job changed less than a step lease ago
    assert (await ledger.hold(job.wallet_id, hold.id) or hold).state == "pending"
    quiet = now() - dt.timedelta(seconds=parts.settings.jobs_step_lease_s + 1)
    await db.collection("jobs").document(job.id).update({"updated_at": quiet})
    report = await sweeper.sweep(limit=1_000)
    assert report.closed >= 1
    closed = await ledger.hold(job.wallet_id, hold.id)
    assert closed is not None and (closed.state, closed.charged) == ("settled", SPENT)
    assert (await parts.repo.get(job.id) or job).closing is False
    assert all(j.id != job.id for j in await parts.repo.unclosed(now(), 1_000))
    await sweeper.sweep(limit=1_000)  # again: nothing more
    state = await check_invariants(db, job.wallet_id)
    assert (state["settled"], state["available"], state["reserved"]) == (SPENT, 1_000 - SPENT, 0)
