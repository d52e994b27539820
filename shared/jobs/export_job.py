"""Export jobs: a thread or a research report rendered to PDF and/or DOCX, in one step.

Creating one checks that the caller may read the source (someone else's thread or job: 404; a research
job not finished: 409) before anything is reserved, and prices it at media.toml's
`[export] price_per_format` per requested format. The step reads the source, renders every format and
stores each file create-if-absent at `users/{user_id}/jobs/{job_id}/export.{pdf|docx}`: a step
delivered twice writes nothing new and is charged once (by the runner's checkpoint). All formats come
from one read of the source, so they show the same content.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from shared.adapters.storage import BlobStore
from shared.auth.schemas import Principal
from shared.errors import AppError
from shared.export.document import Document
from shared.export.fonts import find_font
from shared.export.schemas import ExportInput
from shared.jobs.errors import InvalidJob, StepFailed
from shared.jobs.export_sources import ExportSources
from shared.jobs.kinds import Plan, StepResult
from shared.jobs.schemas import Job, JobCreate, JobResult
from shared.settings import Settings

log = logging.getLogger("jobs.export")

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def export_path(job: Job, fmt: str) -> str:
    return f"users/{job.user_id}/jobs/{job.id}/export.{fmt}"


def export_price(media_catalog: Path) -> int | None:
    """Credits per exported format, from the media catalog's `[export]` table (None: not offered)."""
    table = tomllib.loads(media_catalog.read_text()).get("export", {})
    price = table.get("price_per_format")
    if price is None:
        return None
    if not isinstance(price, int) or price <= 0:
        raise ValueError("[export] price_per_format must be a positive number of credits")
    return price


class ExportJob:
    def __init__(self, sources: ExportSources, store: BlobStore, settings: Settings) -> None:
        self._sources = sources
        self._store = store
        self._price = export_price(Path(settings.media_catalog_path))
        self._font = find_font(settings.export_font_path)
        self._deadline_s = settings.jobs_deadline_s

    def plan(self, request: JobCreate) -> Plan:
        spec = _input(request)
        if self._price is None:
            raise InvalidJob(
                "Exports are not offered here: the media catalog has no [export] price.",
                code="export_unavailable",
            )
        params = {
            "source": spec.source.model_dump(),
            "formats": list(spec.formats),
            "title": spec.title,
            "unit_price": self._price,
        }
        return Plan(
            params=params, steps=1, price=self._price * len(spec.formats), deadline_s=self._deadline_s
        )

    async def check(self, principal: Principal, request: JobCreate) -> None:
        """Before anything is reserved: the source must be the caller's own (and ready)."""
        await self._sources.check(principal.user_id, _input(request).source)

    async def run_step(self, job: Job, step: int) -> StepResult:
        spec = ExportInput.model_validate({k: job.params[k] for k in ("source", "formats", "title")})
        try:
            doc = await self._sources.load(job.user_id, spec.source, spec.title)
        except AppError as exc:  # deleted or changed since the job was created: it fails the same every time
            raise StepFailed(exc.message, code=exc.code, retryable=False) from exc
        results = []
        for index, fmt in enumerate(spec.formats):
            data = render(fmt, doc, self._font)
            path = export_path(job, fmt)
            if not await self._store.put_if_absent(path, data, CONTENT_TYPES[fmt]):
                stored = await self._store.read(path)  # an earlier delivery wrote it: report that one
                data = stored if stored is not None else data
            results.append(
                JobResult(index=index, kind=fmt, path=path, content_type=CONTENT_TYPES[fmt], bytes=len(data))
            )
        log.info(
            "export rendered", extra={"job_id": job.id, "formats": spec.formats, "blocks": len(doc.blocks)}
        )
        return StepResult(cost=int(job.params["unit_price"]) * len(spec.formats), results=results)


def _input(request: JobCreate) -> ExportInput:
    spec = request.input
    return spec if isinstance(spec, ExportInput) else ExportInput.model_validate(spec)


def render(fmt: str, doc: Document, font: Path | None) -> bytes:
    """The renderers are imported on first use: fpdf2 and python-docx cost the API ~0.4 s at start-up."""
    if fmt == "pdf":
        from shared.export.to_pdf import render_pdf

        return render_pdf(doc, font)
    from shared.export.to_docx import render_docx

    return render_docx(doc)
