"""Video jobs: two steps around a provider's long-running operation.

Step 0 submits the generation and then waits for it: each delivery either submits (no operation yet)
or asks the provider once how the operation is doing, and while it is not done the step asks to run
again in settings.video_poll_s (a scheduled Cloud Task, never a sleep; the job keeps the operation id
and the poll count). A failed operation fails the job (nothing is charged); one still running after
settings.video_max_polls polls does too.
Step 1 downloads the video, stores it at `users/{user_id}/jobs/{job_id}/video.mp4` and costs the
model's price per second times the seconds asked for: the user pays for a video they have.

A submit whose checkpoint is lost (the instance dies right after the provider accepted it) is submitted
again on the retry; providers take no idempotency key for video, so that one may be made twice, at our
cost, never the user's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from shared.adapters.storage import BlobStore
from shared.catalog.catalog import UnknownModel
from shared.catalog.media import MediaCatalog, VideoModel
from shared.clock import now
from shared.gateway.video import VideoFailed, VideoGenerator
from shared.jobs.errors import InvalidJob, StepFailed
from shared.jobs.kinds import Plan, StepResult, Wait
from shared.jobs.schemas import Job, JobCreate, JobResult
from shared.settings import Settings

CONTENT_TYPE = "video/mp4"


def video_path(job: Job) -> str:
    return f"users/{job.user_id}/jobs/{job.id}/video.mp4"


class VideoJob:
    def __init__(
        self,
        media: MediaCatalog,
        videos: VideoGenerator,
        store: BlobStore,
        settings: Settings,
        clock: Callable[[], dt.datetime] = now,
    ) -> None:
        self._media = media
        self._videos = videos
        self._store = store
        self._settings = settings
        self._clock = clock

    def plan(self, request: JobCreate) -> Plan:
        spec = request.input
        model = self._media.video_model(spec.model)
        size = spec.size or model.sizes[0]
        if size not in model.sizes:
            raise InvalidJob(
                f"{model.id} does not make {size} videos; choose one of {', '.join(model.sizes)}.",
                code="unsupported_size",
            )
        if spec.seconds not in model.seconds:
            lengths = ", ".join(str(s) for s in model.seconds)
            raise InvalidJob(
                f"{model.id} makes videos of {lengths} seconds; ask for one of those.",
                code="unsupported_duration",
            )
        price = model.price_per_second * spec.seconds
        params = {
            "prompt": spec.prompt,
            "model": model.id,
            "seconds": spec.seconds,
            "size": size,
            "price": price,
        }
        return Plan(params=params, steps=2, price=price, deadline_s=self._settings.jobs_deadline_s)

    async def run_step(self, job: Job, step: int) -> StepResult:
        try:
            model = self._media.video_model(str(job.params["model"]))
            if step == 0:
                return await self._generate(job, model)
            return await self._store_video(job, model)
        except VideoFailed as exc:
            raise StepFailed(exc.message, code=exc.code, retryable=exc.retryable) from exc
        except UnknownModel as exc:  # taken out of the catalog (or its key removed) since the job began
            raise StepFailed(exc.message, code=exc.code, retryable=False) from exc

    async def _generate(self, job: Job, model: VideoModel) -> StepResult:
        params = job.params
        if job.operation is None:
            operation = await self._videos.submit(
                model, str(params["prompt"]), int(params["seconds"]), str(params["size"])
            )
            return StepResult(wait=self._again(operation))
        status = await self._videos.status(model, job.operation)
        if status.state == "completed":
            return StepResult(data={"operation": job.operation})
        if status.state == "failed":
            raise StepFailed(
                status.error or "The video could not be made.", code="video_failed", retryable=False
            )
        if job.polls >= self._settings.video_max_polls:
            raise StepFailed(
                f"The video was not ready after {job.polls} checks; try again later.",
                code="video_timeout",
                retryable=False,
            )
        return StepResult(wait=self._again(job.operation, status.progress))

    async def _store_video(self, job: Job, model: VideoModel) -> StepResult:
        operation = str(job.data["operation"])
        video = await self._videos.content(model, operation)
        path = video_path(job)
        await self._store.put_if_absent(path, video, CONTENT_TYPE)
        result = JobResult(index=0, kind="video", path=path, content_type=CONTENT_TYPE, bytes=len(video))
        return StepResult(cost=int(job.params["price"]), results=[result])

    def _again(self, operation: str, progress: int | None = None) -> Wait:
        at = self._clock() + dt.timedelta(seconds=self._settings.video_poll_s)
        return Wait(operation=operation, at=at, progress=progress)
