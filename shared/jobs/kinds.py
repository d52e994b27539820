"""What each job type does. A kind turns a validated request into a plan (parameters, steps, worst-case
price) and runs one step at a time.

A step answers with a StepResult:
- done: `cost` (credits, added to the job's `spent`), `results`, `data` (merged into the job's `data`
  for later steps to read) and optionally `steps`, the job's new number of steps (a research plan
  decides how many searches follow); all written in the one transaction that records the step;
- not done yet: `wait` set. The same step runs again at `wait.at` (a Cloud Task scheduled for then,
  never a sleep), with `wait.operation` checkpointed in the job as `operation` and `polls` counted;
  the operation's own progress, when known, moves the job's `progress` within the step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.jobs.schemas import Job, JobCreate, JobResult


@dataclass
class Plan:
    params: dict[str, Any]
    steps: int
    price: int  # the worst case, reserved when the job is created
    deadline_s: int


@dataclass(frozen=True)
class Wait:
    """Run this step again at `at`, waiting for `operation` (a provider's long-running operation)."""

    operation: str
    at: dt.datetime
    progress: int | None = None  # how far the operation is, in percent, when the provider says


@dataclass
class StepResult:
    cost: int = 0
    results: list[JobResult] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    wait: Wait | None = None


class JobKind(Protocol):
    def plan(self, request: JobCreate) -> Plan:
        """Validate the request (raise InvalidJob or UnknownModel) and price it; no I/O."""
        ...

    async def run_step(self, job: Job, step: int) -> StepResult:
        """Do step `step` (raise StepFailed). It may run twice: write results create-if-absent."""
        ...
