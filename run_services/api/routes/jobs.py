"""Jobs: POST /v1/jobs, GET /v1/jobs, GET/DELETE /v1/jobs/{id}, GET /v1/jobs/{id}/events (SSE).

Nothing long runs here: creating a job reserves credits, writes the job and queues its first step;
the steps run in the jobs worker (functions/jobs). The events stream reads the job document every
settings.jobs_events_poll_s and sends an event whenever its state, step or progress changed (Pub/Sub
carries the same progress to other consumers; reading the document needs no subscription per client
and cannot miss the final state).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from run_services.api.deps import CurrentPrincipal, JobId, RateLimitDep, ServicesDep, Spender
from run_services.api.streaming import SSEResponse
from shared.auth.schemas import Principal
from shared.bootstrap import Jobs
from shared.clock import now
from shared.errors import BadRequest
from shared.jobs.schemas import INTERNAL_TYPES, JobCreate, JobList, JobView
from shared.jobs.service import MAX_LIST, JobService
from shared.limits.concurrency import released_after

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

KEEPALIVE_S = 15.0
STREAM_GRACE_S = 60.0  # how long a stream may outlive the job's deadline


def get_jobs(services: ServicesDep) -> Jobs:
    return services.jobs


JobsDep = Annotated[Jobs, Depends(get_jobs)]


@router.post("", status_code=202)
async def create_job(
    body: JobCreate,
    response: Response,
    principal: Spender,
    jobs: JobsDep,
    limits: RateLimitDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JobView:
    """Start a job. Its worst-case price is reserved now and settled when it ends; 402 if you cannot pay."""
    if body.type in INTERNAL_TYPES:
        raise BadRequest(
            f"Jobs of type {body.type} are started by their feature (POST /v1/vector_stores/{{id}}/files).",
            code="invalid_job_type",
        )
    job = await jobs.service.create(principal, body, idempotency_key)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    response.headers.update(limits.headers())
    return await jobs.service.view(job)


@router.get("")
async def list_jobs(
    principal: CurrentPrincipal, jobs: JobsDep, limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 20
) -> JobList:
    """Your jobs, newest first (without result URLs: GET a job for those)."""
    found = await jobs.service.list(principal, limit)
    return JobList(data=[await jobs.service.view(job, sign=False) for job in found])


@router.get("/{job_id}")
async def get_job(job_id: JobId, principal: CurrentPrincipal, jobs: JobsDep) -> JobView:
    return await jobs.service.view(await jobs.service.get(principal, job_id))


@router.delete("/{job_id}")
async def cancel_job(job_id: JobId, principal: CurrentPrincipal, jobs: JobsDep) -> JobView:
    """Cancel: no further step runs, and the credits not spent yet go back to your balance."""
    return await jobs.service.view(await jobs.service.cancel(principal, job_id))


@router.get("/{job_id}/events", response_model=None)
async def job_events(
    job_id: JobId, principal: CurrentPrincipal, jobs: JobsDep, services: ServicesDep
) -> SSEResponse:
    """Server-sent events: `queued`, `running` (step, progress), then `succeeded` (results), `failed`
    (error) or `cancelled`; the stream ends after the final one."""
    await jobs.service.get(principal, job_id)  # 404 before the stream starts
    limits, settings = services.open_limits, services.settings
    lease = await limits.concurrency.acquire(limits.job_events, principal.user_id)  # 429 past the cap
    events = _events(
        jobs.service, principal, job_id, settings.jobs_events_poll_s, settings.jobs_events_poll_max_s
    )
    return SSEResponse(released_after(events, limits.concurrency, lease), stall_s=settings.stream_stall_s)


async def _events(
    service: JobService, principal: Principal, job_id: str, poll_s: float, max_poll_s: float
) -> AsyncIterator[bytes]:
    """Reads the job document again after `poll_s`, doubling the wait while nothing changes (up to
    `max_poll_s`) and going back to `poll_s` when something does: a quiet job costs few reads."""
    wait = poll_s
    last: tuple[str, int, int] | None = None
    quiet_since = time.monotonic()
    while True:
        job = await service.get(principal, job_id)
        seen = (job.state, job.step, job.progress)
        if seen != last:
            last = seen
            wait = poll_s
            quiet_since = time.monotonic()
            view = await service.view(job)
            payload = view.model_dump(
                mode="json", include={"id", "state", "step", "steps", "progress", "error", "results"}
            )
            yield f"event: {job.state}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()
        if job.finished or (now() - job.deadline).total_seconds() > STREAM_GRACE_S:
            return
        if time.monotonic() - quiet_since > KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield b": keep-alive\n\n"
        await asyncio.sleep(wait)
        wait = min(wait * 2, max_poll_s)
