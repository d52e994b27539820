"""What a job is: the request that creates one, the stored document, and what the API returns.

A job document lives at `jobs/{job_id}`. Its steps are numbered 0..steps-1; step n has the id
`{job_id}:{n}` and runs as the Cloud Task `job-{job_id}-{n}`. `step` is the next step to run (== steps
when all are done), `spent` the credits its finished steps cost (charged from hold `hold_id` when the
job ends), `reserved` the worst case held when it was created.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JobType = Literal["image"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
MAX_PROMPT_CHARS = 4000
MAX_IMAGES = 10


class ImageInput(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    model: str | None = None
    n: int = Field(1, ge=1, le=MAX_IMAGES)
    size: str = "1024x1024"


class JobCreate(BaseModel):
    """POST /v1/jobs. Only `image` exists so far; video, research and export come next."""

    type: JobType
    input: ImageInput


class JobError(BaseModel):
    code: str
    message: str


class JobResult(BaseModel):
    index: int
    kind: str
    path: str  # the object in the jobs bucket
    content_type: str
    bytes: int
    url: str | None = None  # a V4 signed URL, added when the job is read


class Lease(BaseModel):
    """Which delivery is running which step, until when (a crashed one loses it at `until`)."""

    step: int
    until: datetime
    token: str


class Job(BaseModel):
    id: str
    object: Literal["job"] = "job"
    type: JobType
    state: JobState
    user_id: str
    wallet_id: str
    params: dict[str, Any]
    step: int = 0
    steps: int
    progress: int = 0  # percent of steps done
    results: list[JobResult] = Field(default_factory=list)
    error: JobError | None = None
    hold_id: str
    reserved: int
    spent: int = 0
    enqueued: int = -1  # the highest step whose task is known to be queued
    redrives: int = 0  # how many times the reconciler queued the current step again
    lease: Lease | None = None
    deadline: datetime
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def step_id(self, n: int) -> str:
        return f"{self.id}:{n}"

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(exclude={"object"})

    @classmethod
    def from_doc(cls, job_id: str, data: dict[str, Any]) -> Job:
        return cls.model_validate({**data, "id": job_id})


class JobView(BaseModel):
    """A job as its owner sees it (no lease or ledger internals)."""

    id: str
    object: Literal["job"] = "job"
    type: JobType
    state: JobState
    step: int
    steps: int
    progress: int
    input: dict[str, Any]
    results: list[JobResult]
    error: JobError | None
    reserved: int
    spent: int
    deadline: datetime
    created_at: datetime
    updated_at: datetime


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobView]


def task_id(job_id: str, step: int, redrive: int = 0) -> str:
    """The Cloud Task name of a step: the same step, the same name (Cloud Tasks refuses a second one).
    The reconciler's n-th re-drive of a step is a task of its own, `...-r{n}`."""
    return f"job-{job_id}-{step}" + (f"-r{redrive}" if redrive else "")
