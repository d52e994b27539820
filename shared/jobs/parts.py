"""What the job service, the step runner and the sweeper share: where jobs are stored, who pays, the step
queue, progress events, the usage records and budgets. Built once (shared/bootstrap/jobs.py)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.adapters.tasks import Queue
from shared.jobs.charges import close_hold
from shared.jobs.progress import ProgressEvents
from shared.jobs.repository import JobRepository
from shared.jobs.schemas import Job
from shared.ledger.schemas import Hold
from shared.limits.budgets.service import Budgets
from shared.settings import Settings
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder


@dataclass(frozen=True)
class JobParts:
    repo: JobRepository
    payer: Payer
    queue: Queue
    progress: ProgressEvents
    settings: Settings
    usage: UsageRecorder | None = None
    budgets: Budgets | None = None

    async def close_hold(self, job: Job) -> Hold | None:
        """Settle or void the job's hold once it ended (shared/jobs/charges.py); for a job failed or
        cancelled, then record that it was closed (until then the sweep closes it: JobSweeper)."""
        hold = await close_hold(self.payer, job, self.usage, self.budgets)
        if job.closing:
            await self.repo.closed(job.id)
        return hold
