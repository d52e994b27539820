"""What each job type does. A kind turns a validated request into a plan (parameters, steps, worst-case
price) and runs one step at a time. Only images so far; video, research and export are next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.jobs.schemas import Job, JobCreate, JobResult


@dataclass
class Plan:
    params: dict[str, Any]
    steps: int
    price: int  # the worst case, reserved when the job is created
    deadline_s: int


@dataclass
class StepResult:
    cost: int
    results: list[JobResult] = field(default_factory=list)


class JobKind(Protocol):
    def plan(self, request: JobCreate) -> Plan:
        """Validate the request (raise InvalidJob or UnknownModel) and price it; no I/O."""
        ...

    async def run_step(self, job: Job, step: int) -> StepResult:
        """Do step `step` (raise StepFailed). It may run twice: write results create-if-absent."""
        ...
