"""What the reconciler does for jobs (call `JobSweeper.sweep` from its scheduled run):

- a job past its deadline fails: its hold is settled for what its finished steps spent and the rest is
  released, exactly once (the ledger finishes a hold once; the job's final state is set once), and a
  task `job-{id}-{step}-deadline` queued first finishes that if the sweep fails or dies half-way;
- a job stuck on a step (no live lease and no change for settings.jobs_step_lease_s: its task was lost,
  say the instance died between the checkpoint and the enqueue) gets that step queued again, as the
  task `job-{id}-{step}-r{n}` (`job-{id}-{step}-p{k}-r{n}` with its poll number for a step waiting on
  an operation); a re-drive that races a late delivery is a duplicate, which the worker turns into a
  no-op;
- a job failed or cancelled whose hold no close was recorded for (`closing`: the delivery or the sweep
  that ended it died or failed before closing it, and the task queued to finish that was lost) gets its
  hold closed, once it has been quiet for a step lease: closing is idempotent, so racing the late
  finisher charges once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from shared.clock import now
from shared.jobs.parts import JobParts
from shared.jobs.schemas import Job, JobError, step_payload, task_id

log = logging.getLogger("jobs.sweep")

DEADLINE = JobError(code="deadline_exceeded", message="The job ran past its deadline.")


@dataclass
class SweepReport:
    expired: int = 0
    redriven: int = 0
    closed: int = 0


class JobSweeper:
    def __init__(
        self,
        parts: JobParts,
    ) -> None:
        self._p = parts

    async def sweep(self, limit: int | None = None) -> SweepReport:
        limit = limit or self._p.settings.reconcile_batch
        report = SweepReport()
        at = now()
        for job in await self._p.repo.unfinished("deadline", at, limit):
            try:
                report.expired += await self._expire(job)
            except Exception:  # one broken job must not stop the sweep of the others
                log.exception("job expiry failed; left for the next sweep", extra={"job_id": job.id})
        quiet_since = at - dt.timedelta(seconds=self._p.settings.jobs_step_lease_s)
        for job in await self._p.repo.unfinished("updated_at", quiet_since, limit):
            if job.deadline <= at:
                continue  # failed above, or next time
            try:
                report.redriven += await self._redrive(job, quiet_since)
            except Exception:
                log.exception("job re-drive failed; left for the next sweep", extra={"job_id": job.id})
        for job in await self._p.repo.unclosed(quiet_since, limit):
            try:
                await self._p.close_hold(job)
                report.closed += 1
            except Exception:
                log.exception("job hold close failed; left for the next sweep", extra={"job_id": job.id})
        if report.expired or report.redriven or report.closed:
            counts = {"expired": report.expired, "redriven": report.redriven, "closed": report.closed}
            log.info("jobs swept", extra=counts)
        return report

    async def _expire(self, job: Job) -> int:
        # First a task that finishes the work below should it fail or the process die: failing the job
        # takes it out of the unfinished jobs this sweep reads, so no later sweep would close its hold
        # (its spent never charged). Delivered, the task finds the job failed and closes the hold, or past
        # its deadline and fails it; Cloud Tasks retries it until it goes through.
        name = task_id(job.id, job.step, poll=job.polls) + "-deadline"
        await self._p.queue.enqueue(name, step_payload(job.id, job.step, job.polls))
        failed, changed = await self._p.repo.finish(job.id, "failed", DEADLINE)
        if failed is None or failed.state != "failed":
            return 0
        await self._p.close_hold(failed)
        if not changed:
            return 0
        await self._p.progress.publish(failed)
        return 1

    async def _redrive(self, job: Job, quiet_since: dt.datetime) -> int:
        count = await self._p.repo.claim_redrive(job.id, job.step, quiet_since)
        if count is None:
            return 0
        name = task_id(job.id, job.step, count, job.polls)
        await self._p.queue.enqueue(name, step_payload(job.id, job.step, job.polls))
        await self._p.repo.mark_enqueued(job.id, job.step)
        log.info("job step re-driven", extra={"job_id": job.id, "step": job.step, "redrive": count})
        return 1
