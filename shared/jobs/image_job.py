"""Image jobs: one step per image. Step n asks the image model for one picture and stores it at
`users/{user_id}/jobs/{job_id}/image-{n}.png`; it costs the model's price for the size."""

from __future__ import annotations

from shared.adapters.storage import BlobStore
from shared.catalog.catalog import UnknownModel
from shared.catalog.media import MediaCatalog
from shared.gateway.images import ImageFailed, ImageGenerator
from shared.jobs.errors import InvalidJob, StepFailed
from shared.jobs.kinds import Plan, StepResult
from shared.jobs.schemas import Job, JobCreate, JobResult

CONTENT_TYPE = "image/png"


def image_path(job: Job, step: int) -> str:
    return f"users/{job.user_id}/jobs/{job.id}/image-{step}.png"


class ImageJob:
    def __init__(
        self, media: MediaCatalog, images: ImageGenerator, store: BlobStore, deadline_s: int
    ) -> None:
        self._media = media
        self._images = images
        self._store = store
        self._deadline_s = deadline_s

    def plan(self, request: JobCreate) -> Plan:
        spec = request.input
        model = self._media.image_model(spec.model)
        unit = model.price(spec.size)
        if unit is None:
            raise InvalidJob(
                f"{model.id} does not make {spec.size} images; choose one of {', '.join(model.sizes)}.",
                code="unsupported_size",
            )
        if spec.n > model.max_n:
            raise InvalidJob(
                f"{model.id} makes at most {model.max_n} images per job; ask for fewer.",
                code="too_many_images",
            )
        params = {
            "prompt": spec.prompt,
            "model": model.id,
            "n": spec.n,
            "size": spec.size,
            "unit_price": unit,
        }
        return Plan(params=params, steps=spec.n, price=unit * spec.n, deadline_s=self._deadline_s)

    async def run_step(self, job: Job, step: int) -> StepResult:
        params = job.params
        try:
            model = self._media.image_model(str(params["model"]))
            png = await self._images.generate(model, str(params["prompt"]), str(params["size"]))
        except ImageFailed as exc:
            raise StepFailed(exc.message, code=exc.code, retryable=exc.retryable) from exc
        except UnknownModel as exc:  # taken out of the catalog (or its key removed) since the job began
            raise StepFailed(exc.message, code=exc.code, retryable=False) from exc
        path = image_path(job, step)
        await self._store.put_if_absent(path, png, CONTENT_TYPE)
        result = JobResult(index=step, kind="image", path=path, content_type=CONTENT_TYPE, bytes=len(png))
        return StepResult(cost=int(params["unit_price"]), results=[result])
