"""The reconciler fails a job past its deadline and closes its hold; when closing fails half-way, the job
is no longer unfinished and no later sweep reads it again. Found by the simulator (tests/sim,
SIM_SEED=2 SIM_OPS=3000 SIM_FAULTS=0.2): the job's hold stayed open until the ledger expired it, and what
its finished steps spent was never charged. The sweep now queues a task first that finishes the work."""

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


async def test_a_job_the_sweep_failed_gets_its_hold_closed_when_closing_failed(
    db: firestore.AsyncClient,
) -> None:
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
    assert stored is not None and stored.state == "failed"
    pending = await ledger.hold(wallet, hold.id)
    assert pending is not None and pending.state == "pending"
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
