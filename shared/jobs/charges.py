"""Charging a job: its hold is reserved at creation for the worst case, and settled once when the job ends.

The finished steps' costs add up in the job's `spent` (in the same transaction that records each step,
so a step delivered twice is counted once). When the job ends (succeeded, failed or cancelled) the hold
is settled for `spent` and the rest goes back to the wallet; with nothing spent it is voided. The
ledger finishes a hold exactly once, so calling this again (a redelivered task, a retried cancel) changes
nothing.
"""

from __future__ import annotations

import logging

from shared.jobs.schemas import Job
from shared.ledger.schemas import Hold
from shared.limits.budgets.schemas import Admission
from shared.limits.budgets.service import Budgets
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder

log = logging.getLogger("jobs.billing")


async def close_hold(
    payer: Payer, job: Job, usage: UsageRecorder | None = None, budgets: Budgets | None = None
) -> Hold | None:
    """Settle or void the job's hold, then (when it charged anything) write its usage record and count
    the charge against the caller's spend budget, once: only the delivery that wrote the record counts it.
    A free job (an account export) reserved nothing and has no hold: None."""
    if job.reserved == 0:
        return None
    if job.spent > 0:
        hold = await payer.settle(job.wallet_id, job.hold_id, job.spent)
    else:
        hold = await payer.void(job.wallet_id, job.hold_id)
    first = False
    if usage is not None and hold.charged > 0:
        first = await usage.record_once(
            job.hold_id,
            user_id=job.user_id,
            wallet_id=job.wallet_id,
            feature=job.type,
            model=str(job.params.get("model") or job.type),
            job_id=job.id,
            credits=hold.charged,
            outcome=job.state,
        )
    if budgets is not None and job.budget:
        admission = Admission.from_doc(job.budget)
        if hold.charged == 0:
            await budgets.release(admission)
        elif first:
            await budgets.settle(admission, hold.charged)
    log.info(
        "job hold closed",
        extra={"job_id": job.id, "state": job.state, "spent": job.spent, "hold_state": hold.state},
    )
    return hold
