"""The only code that reads and writes job documents (`jobs/{job_id}`, and `jobs/{job_id}/steps/{n}`).

Every state change is one Firestore transaction that reads the job and decides from what it finds, so
two deliveries of one step (one after the other, or both at once) have one effect: the first to
checkpoint moves `step` on, and the other finds the step already done. Transaction bodies only read
and write Firestore; tasks, messages and ledger calls happen after the commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import weakref
from dataclasses import dataclass
from typing import Any, Literal

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters.firestore import run_transaction
from shared.clock import now
from shared.jobs.schemas import TERMINAL, Job, JobError, JobResult, JobState, Lease

JOBS = "jobs"
BUSY_AFTER = 10.0  # seconds of aborted attempts before a step delivery gives up (Cloud Tasks retries)
STEPS = "steps"
POLLS = "polls"

Begin = Literal["go", "missing", "finished", "stale", "busy", "expired"]


@dataclass
class Started:
    status: Begin
    job: Job | None = None
    token: str = ""
    first: bool = False  # this delivery moved the job from queued to running


class JobRepository:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def create(self, job: Job) -> tuple[Job, bool]:
        """Create the job unless it exists; (the stored job, whether this call created it)."""
        ref = self._ref(job.id)
        try:
            await ref.create(job.to_doc())
            return job, True
        except AlreadyExists:
            existing = await self.get(job.id)
            if existing is None:  # pragma: no cover - deleted in between; jobs are never deleted
                raise
            return existing, False

    async def get(self, job_id: str) -> Job | None:
        snap = await self._ref(job_id).get()
        return Job.from_doc(job_id, snap.to_dict()) if snap.exists else None

    async def list_for_user(self, user_id: str, limit: int) -> list[Job]:
        query = (
            self._db.collection(JOBS)
            .where(filter=FieldFilter("user_id", "==", user_id))
            .order_by("created_at", direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        return [Job.from_doc(snap.id, snap.to_dict()) async for snap in query.stream()]

    async def count_for_user(self, user_id: str) -> int:
        """How many jobs the user has stored (an aggregation query: no documents are read)."""
        query = self._db.collection(JOBS).where(filter=FieldFilter("user_id", "==", user_id))
        result = await query.count().get()
        return int(result[0][0].value)

    async def unfinished(self, field: str, before: dt.datetime, limit: int) -> list[Job]:
        """Queued or running jobs whose `field` (updated_at or deadline) is at or before `before`."""
        query = (
            self._db.collection(JOBS)
            .where(filter=FieldFilter("state", "in", ["queued", "running"]))
            .where(filter=FieldFilter(field, "<=", before))
            .limit(limit)
        )
        return [Job.from_doc(snap.id, snap.to_dict()) async for snap in query.stream()]

    async def unclosed(self, before: dt.datetime, limit: int) -> list[Job]:
        """Jobs failed or cancelled at or before `before` whose hold no close has been recorded for."""
        query = (
            self._db.collection(JOBS)
            .where(filter=FieldFilter("closing", "==", True))
            .where(filter=FieldFilter("updated_at", "<=", before))
            .limit(limit)
        )
        return [Job.from_doc(snap.id, snap.to_dict()) async for snap in query.stream()]

    async def closed(self, job_id: str) -> None:
        """The job's hold was closed (settled or voided) after it failed or was cancelled."""
        await self._ref(job_id).update({"closing": False})

    async def claim_redrive(self, job_id: str, step: int, quiet_since: dt.datetime) -> int | None:
        """Count one re-drive of `step` if the job is still stuck on it (unfinished, no live lease, no
        change since `quiet_since`); the re-drive's number, or None when it moved on meanwhile."""
        ref = self._ref(job_id)

        async def body(tx: Any) -> int | None:
            job = await self._read(tx, ref)
            at = now()
            if job is None or job.finished or job.step != step or job.updated_at > quiet_since:
                return None
            if job.lease is not None and job.lease.until > at:
                return None
            count = job.redrives + 1
            tx.update(ref, {"redrives": count, "updated_at": at})
            return count

        result: int | None = await self._run(job_id, body)
        return result

    async def mark_enqueued(self, job_id: str, step: int) -> None:
        """Remember that step's task is queued (a plain write: only ever raised, never lowered)."""
        ref = self._ref(job_id)

        async def body(tx: Any) -> None:
            job = await self._read(tx, ref)
            if job is not None and job.enqueued < step:
                tx.update(ref, {"enqueued": step})

        await self._run(job_id, body)

    async def begin_step(self, job_id: str, step: int, lease_s: int, poll: int = 0) -> Started:
        """Take the lease on `step` if it is the job's current step and nobody else holds it. `poll`
        is the delivery's re-run number of a waiting step: an older one's late duplicate is stale."""
        ref = self._ref(job_id)

        async def body(tx: Any) -> Started:
            job = await self._read(tx, ref)
            at = now()
            if job is None:
                return Started("missing")
            if job.finished:
                return Started("finished", job)
            if job.step != step or job.polls != poll:
                return Started("stale", job)
            if at >= job.deadline:
                return Started("expired", job)
            if job.lease is not None and job.lease.step == step and job.lease.until > at:
                return Started("busy", job)
            lease = Lease(step=step, until=at + dt.timedelta(seconds=lease_s), token=uuid.uuid4().hex)
            first = job.state == "queued"
            tx.update(ref, {"state": "running", "lease": lease.model_dump(), "updated_at": at})
            running = job.model_copy(update={"state": "running", "lease": lease, "updated_at": at})
            return Started("go", running, lease.token, first)

        result: Started = await self._run(job_id, body)
        return result

    async def release(self, job_id: str, step: int, token: str) -> None:
        """Give the lease back after a failed attempt, so the retry need not wait for it to expire."""
        ref = self._ref(job_id)

        async def body(tx: Any) -> None:
            job = await self._read(tx, ref)
            if job is not None and job.lease is not None and job.lease.token == token:
                tx.update(ref, {"lease": None, "updated_at": now()})

        await self._run(job_id, body)

    async def checkpoint(
        self,
        job_id: str,
        step: int,
        results: list[JobResult],
        cost: int,
        data: dict[str, Any] | None = None,
        steps: int | None = None,
    ) -> Job | None:
        """Record step `step` as done: its results and cost, the data it leaves for later steps, the
        next step, the progress (and the job's new step count, if the step decided it); the last step
        finishes the job. None (and nothing written) when the step is no longer the job's current one:
        a duplicate already did it, or the job was cancelled or failed meanwhile."""
        ref = self._ref(job_id)
        step_ref = ref.collection(STEPS).document(str(step))

        async def body(tx: Any) -> Job | None:
            job = await self._read(tx, ref)
            if job is None or job.finished or job.step != step:
                return None
            at = now()
            done = step + 1
            total = max(steps, done) if steps is not None else job.steps
            state: JobState = "succeeded" if done >= total else "running"
            update = {
                "step": done,
                "steps": total,
                "state": state,
                "progress": done * 100 // total,
                "results": [r.model_dump() for r in [*job.results, *results]],
                "spent": job.spent + cost,
                "data": {**job.data, **(data or {})},
                "polls": 0,
                "operation": None,
                "lease": None,
                "updated_at": at,
            }
            record = {"step_id": job.step_id(step), "cost": cost, "polls": job.polls, "done_at": at}
            tx.set(step_ref, record)
            tx.update(ref, update)
            return Job.from_doc(job_id, {**job.to_doc(), **update})

        result: Job | None = await self._run(job_id, body)
        return result

    async def wait(
        self, job_id: str, step: int, operation: str, at: dt.datetime, progress: int | None = None
    ) -> Job | None:
        """Record that step `step` waits for `operation` and runs again at `at`: one more poll, the lease
        given back. None (nothing written) when the step is no longer the job's current one. Each poll
        is also kept at `jobs/{id}/steps/{n}/polls/{k}` (when it was scheduled for, and from when)."""
        ref = self._ref(job_id)

        async def body(tx: Any) -> Job | None:
            job = await self._read(tx, ref)
            if job is None or job.finished or job.step != step:
                return None
            stamp = now()
            polls = job.polls + 1
            update: dict[str, Any] = {
                "polls": polls,
                "operation": operation,
                "lease": None,
                "updated_at": stamp,
            }
            if progress is not None:  # within the step: step n of N at p % is (n + p/100) / N
                within = (step * 100 + min(max(progress, 0), 99)) // job.steps
                update["progress"] = max(job.progress, within)
            poll_ref = ref.collection(STEPS).document(str(step)).collection(POLLS).document(str(polls))
            tx.set(poll_ref, {"operation": operation, "scheduled_for": at, "at": stamp})
            tx.update(ref, update)
            return Job.from_doc(job_id, {**job.to_doc(), **update})

        result: Job | None = await self._run(job_id, body)
        return result

    async def finish(
        self, job_id: str, state: JobState, error: JobError | None = None
    ) -> tuple[Job | None, bool]:
        """Move an unfinished job to `state` (failed or cancelled); (job, whether this call did it)."""
        if state not in TERMINAL:
            raise ValueError(f"{state} is not a final state")
        ref = self._ref(job_id)

        async def body(tx: Any) -> tuple[Job | None, bool]:
            job = await self._read(tx, ref)
            if job is None or job.finished:
                return job, False
            at = now()
            update = {
                "state": state,
                "error": error.model_dump() if error else None,
                "lease": None,
                "updated_at": at,
                # Its hold is to be closed now; until `closed` says it was, the sweep will (`unclosed`).
                "closing": job.reserved > 0,
            }
            tx.update(ref, update)
            return Job.from_doc(job_id, {**job.to_doc(), **update}), True

        result: tuple[Job | None, bool] = await self._run(job_id, body)
        return result

    # Internals.

    def _ref(self, job_id: str) -> Any:
        return self._db.collection(JOBS).document(job_id)

    async def _read(self, tx: Any, ref: Any) -> Job | None:
        snap = await ref.get(transaction=tx)
        return Job.from_doc(ref.id, snap.to_dict()) if snap.exists else None

    async def _run(self, job_id: str, body: Any) -> Any:
        """One job's transactions take turns within this process (duplicate deliveries to one instance
        wait instead of aborting each other); across instances, aborts are retried with backoff, and
        past BUSY_AFTER the worker answers 503 and Cloud Tasks delivers the step again later."""
        lock = self._locks.get(job_id)
        if lock is None:
            lock = self._locks[job_id] = asyncio.Lock()
        async with lock:
            return await run_transaction(self._db, body, BUSY_AFTER)
