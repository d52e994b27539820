"""The jobs worker: Cloud Tasks POSTs one job step here ({"job_id", "step"}, and "poll" for the scheduled
re-run of a step that waits on a long-running operation), and it runs that step.

What it answers is the retry decision (see shared/jobs/runner.py): 2xx acknowledges (done, duplicate,
or failed for good), 409 and 5xx make Cloud Tasks deliver again. In the cloud the request must carry
the tasks service account's OIDC token for settings.jobs_oidc_audience; locally the check is off. With
ENVIRONMENT=production and no JOBS_OIDC_AUDIENCE (or TASKS_SERVICE_ACCOUNT) the module refuses to load, so
the instance never starts (shared/adapters/oidc.py, require_jobs_oidc).

`python -m functions_framework --source functions/jobs/main.py --target run_step` serves it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import flask
import functions_framework
from opentelemetry.trace import SpanKind

from shared.adapters.oidc import OidcVerifier, require_jobs_oidc
from shared.bootstrap import Jobs, WorkerServices, build_worker
from shared.errors import AppError
from shared.gateway.images import ImageGenerator
from shared.loop_thread import LoopThread, Once
from shared.settings import Settings, get_settings
from shared.telemetry import metrics, tracing

log = logging.getLogger("jobs.worker")

RETRY_COUNT = "X-CloudTasks-TaskRetryCount"
TASK_NAME = "X-CloudTasks-TaskName"

# At import, so a misconfigured production instance fails its startup instead of its first step.
require_jobs_oidc(get_settings())


class Worker:
    """Everything one instance needs, built once: the loop, the clients, the OIDC verifier."""

    def __init__(self, settings: Settings, images: ImageGenerator | None = None) -> None:
        self.settings = settings
        self.verifier = OidcVerifier.for_jobs(settings)
        self.loop = LoopThread()
        self.services: WorkerServices = self.loop.run(self._build(images))
        self.jobs: Jobs = self.services.jobs

    async def _build(self, images: ImageGenerator | None) -> WorkerServices:
        return build_worker(self.settings, images)

    async def _traced_step(self, job_id: str, step: int, attempt: int, poll: int, parent: Any) -> Any:
        """The step in a span of the trace that queued it (the task's `traceparent`)."""
        attributes: dict[str, tracing.Attr | None] = {
            "job.id": job_id,
            "job.step": step,
            "job.attempt": attempt,
            "job.poll": poll,
        }
        started = time.perf_counter()
        with tracing.span("job.step", parent, SpanKind.CONSUMER, **attributes) as current:
            outcome = await self.jobs.runner.run(job_id, step, attempt, poll)
            current.set_attribute("job.result", outcome.result)
        metrics.JOB_STEPS.add(1, {"result": outcome.result, "state": outcome.job_state or ""})
        metrics.JOB_STEP_DURATION.record(time.perf_counter() - started, {"result": outcome.result})
        return outcome

    def handle(self, request: flask.Request) -> flask.Response:
        try:
            self.verifier.verify(request.headers.get("Authorization"))
        except AppError as exc:
            return _answer(exc.status, {"error": exc.body()["error"]})
        parsed = _parse(request.get_json(silent=True))
        if parsed is None:
            # It can never succeed: acknowledge, or Cloud Tasks would deliver it again and again.
            log.warning("task body is not a job step", extra={"task": request.headers.get(TASK_NAME)})
            return _answer(200, {"result": "invalid_task"})
        job_id, step, poll = parsed
        attempt = _int(request.headers.get(RETRY_COUNT), 0) + 1
        extra = {
            "job_id": job_id,
            "step": step,
            "poll": poll,
            "attempt": attempt,
            "task": request.headers.get(TASK_NAME),
        }
        parent = tracing.parent_from(
            {"traceparent": str((request.get_json(silent=True) or {}).get("traceparent", ""))}
        )
        try:
            outcome = self.loop.run(self._traced_step(job_id, step, attempt, poll, parent))
        except Exception:
            # Firestore, the ledger or the queue failed around the step: nothing was lost, try again.
            log.exception("step delivery failed", extra=extra)
            return _answer(500, {"result": "error"})
        log.info("step delivery", extra={**extra, "result": outcome.result, "status": outcome.status})
        return _answer(outcome.status, {"result": outcome.result, "state": outcome.job_state})


def _parse(body: Any) -> tuple[str, int, int] | None:
    if not isinstance(body, dict):
        return None
    job_id, step, poll = body.get("job_id"), body.get("step"), body.get("poll", 0)
    if not isinstance(job_id, str) or not job_id or "/" in job_id or not isinstance(step, int) or step < 0:
        return None
    if not isinstance(poll, int) or poll < 0:
        return None
    return job_id, step, poll


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _answer(status: int, body: dict[str, Any]) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    return response


_worker: Once[Worker] = Once(Worker)


def worker() -> Worker:
    return _worker.get()


@functions_framework.http
def run_step(request: flask.Request) -> flask.Response:
    return worker().handle(request)
