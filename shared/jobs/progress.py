"""Job progress on Pub/Sub (settings.jobs_topic), for whoever wants it (notifications, analytics).

The API's SSE stream reads the job document itself, so a lost message loses nobody's progress: a
failed publish is logged and never fails a step.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.adapters.pubsub import Publisher, PublishFailed
from shared.jobs.schemas import Job
from shared.telemetry import tracing

log = logging.getLogger("jobs.progress")


def event(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "user_id": job.user_id,
        "type": job.type,
        "state": job.state,
        "step": job.step,
        "steps": job.steps,
        "progress": job.progress,
        "error": job.error.model_dump() if job.error else None,
        "at": job.updated_at.isoformat(),
    }


class ProgressEvents:
    def __init__(self, publisher: Publisher, topic: str) -> None:
        self._publisher = publisher
        self._topic = topic

    async def publish(self, job: Job) -> None:
        attributes = {"job_id": job.id, "state": job.state, "type": job.type, **tracing.carrier()}
        try:
            await self._publisher.publish(self._topic, event(job), attributes)
        except PublishFailed:
            log.warning("job progress not published", extra={"job_id": job.id, "state": job.state})
