"""The API's side of jobs: create (reserve, write, enqueue), read, list and cancel.

Creating a job validates and prices it first (bad input changes nothing; a model the caller's plan does not
include is 403 model_not_in_plan; past settings.max_stored_jobs jobs it is 409 too_many_jobs), then reserves
the worst case
under the hold `job:{job_id}` (402 when the balance cannot cover it: no job is written), then writes the
job document and enqueues step 0. With an Idempotency-Key the job id is derived from the caller and the
key, so a retried create finds the same hold and the same job and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

from shared.adapters.storage import BlobStore
from shared.adapters.tasks import EnqueueFailed
from shared.auth.schemas import Principal
from shared.chat.guard import Guardrails
from shared.clock import now
from shared.errors import Conflict
from shared.ids import new_id, stable_id
from shared.jobs.errors import JobNotFound, TooManyJobs
from shared.jobs.kinds import JobKind
from shared.jobs.parts import JobParts
from shared.jobs.schemas import Job, JobCreate, JobError, JobView, step_payload, task_id
from shared.jobs.screening import screened
from shared.limits.budgets.schemas import Admission
from shared.plans.offers import PlanOffers, ensure_model_allowed

log = logging.getLogger("jobs.service")

# The hold outlives the job's deadline, so the reconciler never expires the hold of a job still running.
HOLD_MARGIN_S = 900
MAX_LIST = 100


def hold_id(job_id: str) -> str:
    return f"job:{job_id}"


class JobService:
    def __init__(
        self,
        parts: JobParts,
        kinds: dict[str, JobKind],
        store: BlobStore,
        offers: PlanOffers,
        guardrails: Guardrails | None = None,
    ) -> None:
        self._p = parts
        self._kinds = kinds
        self._store = store
        self._offers = offers
        self._guardrails = guardrails  # the prompt's pre_call (shared/jobs/screening.py); None: unscreened

    async def create(
        self, principal: Principal, request: JobCreate, idempotency_key: str | None = None
    ) -> Job:
        kind = self._kinds[request.type]
        if self._guardrails is not None:
            request = await screened(self._guardrails, principal, request)
        plan = kind.plan(request)
        model = plan.params.get("model")
        if model is not None:  # the plan the caller spends under (a workspace's, with X-Workspace-ID)
            ensure_model_allowed(self._offers.get(principal.plan), str(model))
        check = getattr(kind, "check", None)  # a kind reading the caller's data (export) checks access first
        if check is not None:
            await check(principal, request)
        job_id = stable_id("job", principal.user_id, idempotency_key) if idempotency_key else new_id()
        await self._within_quota(principal, job_id)
        at = now()
        admission = await self._admit(principal, plan.price) if plan.price > 0 else None
        wallet_id, reserved = principal.wallet_id, 0  # a free job (an account export) holds nothing
        if plan.price > 0:
            try:
                hold = await self._p.payer.reserve(
                    principal.wallet_id,
                    hold_id(job_id),
                    want=plan.price,
                    minimum=plan.price,
                    ttl_s=plan.deadline_s + HOLD_MARGIN_S,
                    ref=f"job:{request.type}",
                    spender=principal.user_id,
                    pinned=idempotency_key is not None,  # a client's retry may race its first try
                )
            except BaseException:
                await self._release(admission)
                raise
            wallet_id, reserved = hold.wallet_id, hold.amount  # a workspace hold lives on one shard
        job = Job(
            id=job_id,
            type=request.type,
            state="queued",
            user_id=principal.user_id,
            wallet_id=wallet_id,
            params=plan.params,
            steps=plan.steps,
            hold_id=hold_id(job_id),
            reserved=reserved,
            budget=admission.to_doc() if admission is not None and admission.periods else None,
            deadline=at + dt.timedelta(seconds=plan.deadline_s),
            created_at=at,
            updated_at=at,
        )
        job, created = await self._p.repo.create(job)
        if not created:
            await self._release(admission)  # a replay: the job created first holds its own admission
        if not created and (job.type != request.type or job.params != plan.params):
            raise Conflict(
                "This Idempotency-Key was used for a different job; use a new key for a new job.",
                code="idempotency_key_reused",
            )
        if job.finished or job.enqueued >= 0:
            return job
        try:
            await self._p.queue.enqueue(task_id(job.id, 0), step_payload(job.id, 0))
        except EnqueueFailed:
            failed, _ = await self._p.repo.finish(
                job.id, "failed", JobError(code="enqueue_failed", message="The job could not be queued.")
            )
            if failed is not None:
                await self._p.close_hold(failed)
            raise
        await self._p.repo.mark_enqueued(job.id, 0)
        log.info(
            "job created" if created else "job create replayed",
            extra={"job_id": job.id, "type": job.type, "reserved": job.reserved, "steps": job.steps},
        )
        await self._p.progress.publish(job)
        return job

    async def _within_quota(self, principal: Principal, job_id: str) -> None:
        """At most settings.max_stored_jobs jobs per user (a replayed create is not a new job)."""
        limit = self._p.settings.max_stored_jobs
        if await self._p.repo.count_for_user(principal.user_id) < limit:
            return
        existing = await self._p.repo.get(job_id)
        if existing is None or existing.user_id != principal.user_id:
            raise TooManyJobs(limit)

    async def _admit(self, principal: Principal, price: int) -> Admission | None:
        """The job's worst case against the caller's spend budget (402 budget_exceeded when it passes)."""
        if self._p.budgets is None:
            return None
        return await self._p.budgets.admit(self._p.budgets.for_user(principal), price)

    async def _release(self, admission: Admission | None) -> None:
        if admission is not None and self._p.budgets is not None:
            await self._p.budgets.release(admission)

    async def get(self, principal: Principal, job_id: str) -> Job:
        job = await self._p.repo.get(job_id)
        if job is None or job.user_id != principal.user_id:
            raise JobNotFound(job_id)  # another user's job does not exist, as far as the caller can tell
        return job

    async def list(self, principal: Principal, limit: int = 20) -> list[Job]:
        return await self._p.repo.list_for_user(principal.user_id, min(max(limit, 1), MAX_LIST))

    async def cancel(self, principal: Principal, job_id: str) -> Job:
        """Stop the job: no further step runs or is charged; the unspent credits go back once."""
        await self.get(principal, job_id)
        job, changed = await self._p.repo.finish(job_id, "cancelled")
        if job is None:
            raise JobNotFound(job_id)
        if job.state == "cancelled":
            await self._p.close_hold(job)
        if changed:
            log.info("job cancelled", extra={"job_id": job_id, "spent": job.spent})
            await self._p.progress.publish(job)
        return job

    async def view(self, job: Job, sign: bool = True) -> JobView:
        """The job as its owner sees it, with fresh signed URLs for its results (unless `sign` is False:
        in the cloud each URL is one IAM signBlob call, too many for a list)."""
        results = [
            r.model_copy(update={"url": await self._store.signed_url(r.path) if sign else None})
            for r in job.results
        ]
        return JobView(
            id=job.id,
            type=job.type,
            state=job.state,
            step=job.step,
            steps=job.steps,
            progress=job.progress,
            input=job.params,
            results=results,
            error=job.error,
            reserved=job.reserved,
            spent=job.spent,
            deadline=job.deadline,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )

    async def read_result(self, job: Job, index: int) -> bytes | None:
        return await self._store.read(job.results[index].path)
