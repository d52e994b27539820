"""Running one job step, as the worker function does for each Cloud Task delivery.

    begin (take the step's lease) -> do the step -> checkpoint (results, cost, data, next step: one
    transaction) -> enqueue the next step, or settle the hold when the job is done -> publish progress

A step that is not done yet (it waits on a long-running operation) is checkpointed as one more poll
and queued again as the task `job-{id}-{n}-p{k}`, scheduled for the time the kind asked for: no
invocation ever sleeps. Its delivery carries `poll` = k, so a late duplicate of an earlier poll finds
the job past it and does nothing.

Every delivery ends in an explicit decision (Outcome.status is the HTTP status the worker answers):
- 200: done, or nothing to do (a duplicate, a stale or unknown step, a finished job), or the job failed
  for good (a permanent error, the final attempt, the deadline): Cloud Tasks must not retry.
- 409: another delivery of this step holds its lease right now: retry later.
- 500: a transient failure before the final attempt: Cloud Tasks retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.jobs.errors import StepFailed
from shared.jobs.kinds import JobKind, StepResult, Wait
from shared.jobs.parts import JobParts
from shared.jobs.schemas import Job, JobError, step_payload, task_id

log = logging.getLogger("jobs.runner")


@dataclass(frozen=True)
class Outcome:
    status: int
    result: str  # what happened, for the logs and the tests
    job_state: str | None = None


class StepRunner:
    def __init__(
        self,
        parts: JobParts,
        kinds: dict[str, JobKind],
    ) -> None:
        self._p = parts
        self._kinds = kinds

    async def run(self, job_id: str, step: int, attempt: int, poll: int = 0) -> Outcome:
        """Run `step` of `job_id` (its `poll`-th scheduled re-run); `attempt` counts deliveries of this
        task from 1."""
        started = await self._p.repo.begin_step(job_id, step, self._p.settings.jobs_step_lease_s, poll)
        job = started.job
        if started.status == "missing" or job is None:
            log.warning("step for an unknown job", extra={"job_id": job_id, "step": step})
            return Outcome(200, "missing")
        if started.status == "finished":
            # A no-op unless an earlier delivery died before it.
            await self._p.close_hold(job)
            return Outcome(200, "finished", job.state)
        if started.status == "stale":
            await self._ensure_next(job)
            return Outcome(200, "duplicate", job.state)
        if started.status == "busy":
            return Outcome(409, "busy", job.state)
        if started.status == "expired":
            return await self._fail(
                job, JobError(code="deadline_exceeded", message="The job ran past its deadline.")
            )
        if started.first:
            await self._p.progress.publish(job)
        try:
            result = await self._kinds[job.type].run_step(job, step)
        except StepFailed as exc:
            return await self._failed_attempt(job, step, started.token, attempt, exc)
        except Exception as exc:
            log.exception("step crashed", extra={"job_id": job_id, "step": step})
            failure = StepFailed("The step failed unexpectedly.", code="step_error", retryable=True)
            failure.__cause__ = exc
            return await self._failed_attempt(job, step, started.token, attempt, failure)
        if result.wait is not None:
            return await self._wait(job, step, result.wait)
        return await self._checkpoint(job, step, result)

    async def _wait(self, job: Job, step: int, wait: Wait) -> Outcome:
        waiting = await self._p.repo.wait(job.id, step, wait.operation, wait.at, wait.progress)
        if waiting is None:
            log.info("step wait discarded", extra={"job_id": job.id, "step": step})
            return Outcome(200, "discarded")
        name = task_id(job.id, step, poll=waiting.polls)
        await self._p.queue.enqueue(name, step_payload(job.id, step, waiting.polls), schedule_at=wait.at)
        if waiting.progress != job.progress:
            await self._p.progress.publish(waiting)
        log.info(
            "step waits",
            extra={"job_id": job.id, "step": step, "poll": waiting.polls, "at": wait.at.isoformat()},
        )
        return Outcome(200, "waiting", waiting.state)

    async def _checkpoint(self, job: Job, step: int, result: StepResult) -> Outcome:
        done = await self._p.repo.checkpoint(
            job.id, step, result.results, result.cost, result.data, result.steps
        )
        if done is None:
            # Cancelled, failed or done by a duplicate while this delivery worked: it changes nothing.
            log.info("step result discarded", extra={"job_id": job.id, "step": step})
            return Outcome(200, "discarded")
        log.info(
            "step done",
            extra={"job_id": job.id, "step": step, "cost": result.cost, "state": done.state},
        )
        if done.finished:
            # First: whoever hears "succeeded" sees the charge.
            await self._p.close_hold(done)
            await self._p.progress.publish(done)
            return Outcome(200, "succeeded", done.state)
        await self._p.progress.publish(done)
        await self._enqueue(done, done.step)
        return Outcome(200, "next", done.state)

    async def _failed_attempt(
        self, job: Job, step: int, token: str, attempt: int, exc: StepFailed
    ) -> Outcome:
        final = attempt >= self._p.settings.jobs_max_attempts
        extra = {"job_id": job.id, "step": step, "attempt": attempt, "code": exc.code}
        if exc.retryable and not final:
            log.warning("step failed, will retry", extra=extra)
            await self._p.repo.release(job.id, step, token)
            return Outcome(500, "retry", job.state)
        log.warning("step failed for good", extra=extra)
        reason = exc.message if not exc.retryable else f"{exc.message} (gave up after {attempt} attempts)"
        return await self._fail(job, JobError(code=exc.code, message=reason))

    async def _fail(self, job: Job, error: JobError) -> Outcome:
        failed, changed = await self._p.repo.finish(job.id, "failed", error)
        if failed is None:
            return Outcome(200, "missing")
        await self._p.close_hold(failed)
        if changed:
            await self._p.progress.publish(failed)
        return Outcome(200, "failed", failed.state)

    async def _ensure_next(self, job: Job) -> None:
        """A late duplicate of the previous step: queue the current one if its enqueue was lost."""
        if not job.finished and job.enqueued < job.step:
            await self._enqueue(job, job.step)

    async def _enqueue(self, job: Job, step: int) -> None:
        await self._p.queue.enqueue(task_id(job.id, step), step_payload(job.id, step))
        await self._p.repo.mark_enqueued(job.id, step)
