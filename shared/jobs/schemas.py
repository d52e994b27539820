"""What a job is: the request that creates one, the stored document, and what the API returns.

A job document lives at `jobs/{job_id}`. Its steps are numbered 0..steps-1; step n has the id
`{job_id}:{n}` and runs as the Cloud Task `job-{job_id}-{n}`. `step` is the next step to run (== steps
when all are done), `spent` the credits its finished steps cost (charged from hold `hold_id` when the
job ends), `reserved` the worst case held when it was created.

A step waiting on a long-running operation (a video being generated) is run again later: its k-th
re-run is the task `job-{job_id}-{n}-p{k}`, scheduled for a later time; `polls` counts them (reset when
the step is done) and `operation` names what is being waited for. `data` is what finished steps left
for later ones (a research plan, search results, the sources read); a kind may change `steps` as it
learns how much there is to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.export.schemas import ExportInput
from shared.knowledge.ingest_input import IngestInput
from shared.telemetry import tracing

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JobType = Literal["image", "video", "research", "export", "account_export", "vector_store_file"]
# Started by another feature, never by POST /v1/jobs (400 there): indexing a file into a vector store.
INTERNAL_TYPES: frozenset[str] = frozenset({"vector_store_file"})
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
MAX_PROMPT_CHARS = 4000
MAX_IMAGES = 10
MAX_QUESTION_CHARS = 2000
MAX_SOURCES = 10


class ImageInput(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    model: str | None = None
    n: int = Field(1, ge=1, le=MAX_IMAGES)
    size: str = "1024x1024"


class VideoInput(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    model: str | None = None
    seconds: int = Field(4, ge=1, le=60)
    size: str | None = None  # the model's first size when not given


class ResearchInput(BaseModel):
    question: str = Field(min_length=3, max_length=MAX_QUESTION_CHARS)
    model: str | None = None  # a chat model of the catalog; the default model when not given
    max_sources: int = Field(6, ge=1, le=MAX_SOURCES)


class AccountExportInput(BaseModel):
    """An account export takes no input: it is everything the account holds (POST /v1/me/export)."""

    model_config = ConfigDict(extra="forbid")


# The input each job type takes; a type missing here is refused (422) before anything happens.
INPUTS: dict[str, type[BaseModel]] = {
    "image": ImageInput,
    "video": VideoInput,
    "research": ResearchInput,
    "export": ExportInput,
    "account_export": AccountExportInput,
    "vector_store_file": IngestInput,
}


class JobCreate(BaseModel):
    """POST /v1/jobs: `type` picks the job, `input` is validated against that type's input model."""

    type: JobType
    input: Any

    @model_validator(mode="after")
    def _input_of_type(self) -> JobCreate:
        model = INPUTS.get(self.type)
        if model is None:
            raise ValueError(f"jobs of type {self.type!r} are not available here")
        if not isinstance(self.input, model):
            raw = self.input.model_dump() if isinstance(self.input, BaseModel) else self.input
            self.input = model.model_validate(raw)
        return self


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
    text: str | None = None  # a text result inline (a research report), also stored at `path`


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
    polls: int = 0  # how many times the current step was scheduled again to wait for `operation`
    operation: str | None = None  # the long-running operation the current step waits for
    data: dict[str, Any] = Field(default_factory=dict)  # what finished steps left for later ones
    lease: Lease | None = None
    budget: dict[str, Any] | None = None  # the spend-budget admission (shared/budgets), settled at the end
    closing: bool = False  # failed or cancelled, its hold not yet known closed (JobSweeper closes it)
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


def task_id(job_id: str, step: int, redrive: int = 0, poll: int = 0) -> str:
    """The Cloud Task name of a step: the same step, the same name (Cloud Tasks refuses a second one).
    The k-th scheduled re-run of a waiting step is `...-p{k}`; the reconciler's n-th re-drive of a
    step is a task of its own, `...-r{n}`."""
    name = f"job-{job_id}-{step}" + (f"-p{poll}" if poll else "")
    return name + (f"-r{redrive}" if redrive else "")


def step_payload(job_id: str, step: int, poll: int = 0) -> dict[str, Any]:
    """The body of a step's task; `poll` tells a scheduled re-run from a late duplicate of an older one.
    `traceparent` carries the current trace, so the step joins the request (or step) that queued it."""
    body: dict[str, Any] = (
        {"job_id": job_id, "step": step, "poll": poll} if poll else {"job_id": job_id, "step": step}
    )
    return body | tracing.carrier()
