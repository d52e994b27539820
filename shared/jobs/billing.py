"""Charging a job: its hold is reserved at creation for the worst case, and settled once when the job ends.

The finished steps' costs add up in the job's `spent` (in the same transaction that records each step,
so a step delivered twice is counted once). When the job ends (succeeded, failed or cancelled) the hold
is settled for `spent` and the rest goes back to the wallet; with nothing spent it is voided. The
ledger finishes a hold exactly once, so calling this again (a redelivered task, a retried cancel) changes
nothing.
"""

from __future__ import annotations

import logging

from shared.credits.ledger import Ledger
from shared.credits.schemas import Hold
from shared.jobs.schemas import Job

log = logging.getLogger("jobs.billing")


async def close_hold(ledger: Ledger, job: Job) -> Hold:
    if job.spent > 0:
        hold = await ledger.settle(job.wallet_id, job.hold_id, job.spent)
    else:
        hold = await ledger.void(job.wallet_id, job.hold_id)
    log.info(
        "job hold closed",
        extra={"job_id": job.id, "state": job.state, "spent": job.spent, "hold_state": hold.state},
    )
    return hold
