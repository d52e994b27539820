"""Job errors: what the API answers, and what a step tells the worker (retry or give up)."""

from __future__ import annotations

from shared.errors import AppError, BadRequest, Conflict, NotFound


class JobNotFound(NotFound):
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job {job_id!r} exists for you; GET /v1/jobs lists yours.")


class TooManyJobs(Conflict):
    code = "too_many_jobs"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Your account already stores {limit} jobs, the most it may keep; contact support to raise "
            "the quota. Nothing was reserved."
        )


class InvalidJob(BadRequest):
    code = "invalid_job"


class StepFailed(AppError):
    """A step could not be done. `retryable`: raise to Cloud Tasks and try again; otherwise the job
    fails now (a refused prompt fails the same way every time)."""

    status = 502
    type = "provider_error"

    def __init__(self, message: str, *, code: str, retryable: bool) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable
