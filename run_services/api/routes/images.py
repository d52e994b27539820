"""POST /v1/images/generations, OpenAI-compatible, as an image job.

The request starts an image job (one step per image, run by the jobs worker) and then waits at most
settings.images_wait_s for it, reading the job document (no generation runs in this request). When the
job is done in time the answer is OpenAI's: 200 {"created", "data": [{"url"} or {"b64_json"}]}, the URLs
being V4 signed URLs that expire. Otherwise, or at once with `Prefer: respond-async`, it is 202 with the
job (GET its Location, or stream /v1/jobs/{id}/events). A failed job answers with the job's error.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from run_services.api.deps import RateLimitDep, ServicesDep, Spender
from run_services.api.routes.jobs import JobsDep
from shared.auth.schemas import Principal
from shared.errors import AppError, Conflict, UpstreamError
from shared.jobs.schemas import MAX_IMAGES, MAX_PROMPT_CHARS, ImageInput, Job, JobCreate
from shared.jobs.service import JobService

router = APIRouter(tags=["images"])


class ImageGenerationRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    model: str | None = None
    n: int = Field(1, ge=1, le=MAX_IMAGES)
    size: str = "1024x1024"
    response_format: Literal["url", "b64_json"] = "url"
    quality: str | None = None
    style: str | None = None
    user: str | None = None


@router.post("/v1/images/generations", response_model=None)
async def generate_images(
    body: ImageGenerationRequest,
    principal: Spender,
    jobs: JobsDep,
    services: ServicesDep,
    limits: RateLimitDep,
    prefer: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    request = JobCreate(
        type="image", input=ImageInput(prompt=body.prompt, model=body.model, n=body.n, size=body.size)
    )
    job = await jobs.service.create(principal, request, idempotency_key)
    headers = {"Location": f"/v1/jobs/{job.id}", "X-Job-ID": job.id, **limits.headers()}
    wait_s = 0.0 if prefer and "respond-async" in prefer.lower() else services.settings.images_wait_s
    job = await _wait(jobs.service, principal, job, wait_s, services.settings.jobs_events_poll_s)
    if job.state == "succeeded":
        content = await _openai_body(jobs.service, job, body.response_format)
        return JSONResponse(content, headers=headers)
    if job.state == "failed":
        error = job.error
        raise UpstreamError(
            (error.message if error else "The image job failed.")
            + " Nothing was charged for missing images.",
            code=error.code if error else "image_generation_failed",
        )
    if job.state == "cancelled":
        raise Conflict("The image job was cancelled.", code="job_cancelled")
    view = await jobs.service.view(job)
    return JSONResponse(view.model_dump(mode="json"), status_code=202, headers=headers)


async def _wait(service: JobService, principal: Principal, job: Job, wait_s: float, poll_s: float) -> Job:
    give_up = time.monotonic() + wait_s
    while not job.finished and time.monotonic() < give_up:
        await asyncio.sleep(min(poll_s, max(0.0, give_up - time.monotonic())))
        job = await service.get(principal, job.id)
    return job


async def _openai_body(service: JobService, job: Job, response_format: str) -> dict[str, Any]:
    data: list[dict[str, str]] = []
    view = await service.view(job)
    for i, result in enumerate(view.results):
        if response_format == "b64_json":
            png = await service.read_result(job, i)
            if png is None:
                raise AppError("A stored image is missing; GET the job and retry.", code="result_missing")
            data.append({"b64_json": base64.b64encode(png).decode()})
        else:
            data.append({"url": result.url or ""})
    return {"created": int(job.created_at.timestamp()), "data": data}
