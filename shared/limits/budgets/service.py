"""Spend budgets: a cap in credits per subject per UTC day and month, checked in the path of every call.

    admission = await budgets.admit(budget, want, minimum)   # before the provider call; 402 when over
    ...                                                       # the call
    await budgets.settle(admission, charged)                  # or budgets.release(admission) on failure

`admit` refuses atomically when spent + in flight + the call would pass a cap, otherwise counts the
granted credits as in flight; `settle` moves them to spent (what was really charged) and publishes an
alert the first time a period's spend reaches 50, 80 and 100 percent of its cap. Alerts are published in
the background, so a slow Pub/Sub never delays an answer; `flush()` waits for them (shutdown, tests).

Why Redis: the check sits in front of every model call on every instance and must be atomic across them;
a Firestore document per subject would serialise every call of a busy user or workspace at about one
write a second, and a transaction per call would double the ledger's latency. What Redis loses if it
loses data: the counters of the current periods (spent restarts from 0, alerts may be sent again). Money
is never at risk: the credit ledger in Firestore is the truth for balances and charges, and a budget is
only a spending cap on top of it. For the same reason an unreachable Redis lets calls through (logged).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import clock
from shared.adapters.pubsub import Publisher
from shared.limits.budgets import periods
from shared.limits.budgets.errors import BudgetExceeded
from shared.limits.budgets.repository import BudgetRepository, Refusal
from shared.limits.budgets.schemas import Admission, Alert, Budget, Period
from shared.limits.caller import Caller
from shared.plans.limits import Plans
from shared.settings import Settings

log = logging.getLogger(__name__)


class Budgets:
    def __init__(
        self,
        redis: Redis,
        plans: Plans,
        publisher: Publisher | None,
        settings: Settings,
        now: Callable[[], dt.datetime] = clock.now,
    ) -> None:
        self._repo = BudgetRepository(redis)
        self._plans = plans
        self._publisher = publisher
        self._topic = settings.budget_alerts_topic
        self._hold_ttl = dt.timedelta(seconds=settings.hold_ttl_s)
        self._now = now
        self._pending: set[asyncio.Task[bool]] = set()

    def for_user(self, principal: Caller) -> Budget:
        plan = self._plans.get(principal.plan)
        return Budget(f"user:{principal.user_id}", plan.daily_budget, plan.monthly_budget)

    async def admit(self, budget: Budget, amount: int, minimum: int | None = None) -> Admission:
        """Count up to `amount` credits as in flight: the most every capped period has room for, at least
        `minimum` (default: all of `amount`). Raises BudgetExceeded (402) otherwise. `Admission.amount`
        is what was granted: reserve no more than that in the ledger."""
        now = self._now()
        admission_id = uuid.uuid4().hex
        current = periods.current(budget, now)
        if amount <= 0 or not current:
            return Admission(admission_id, budget.subject, max(0, amount), ())
        minimum = amount if minimum is None else max(1, min(minimum, amount))
        try:
            granted = await self._repo.admit(
                budget.subject, current, admission_id, amount, minimum, now, now + self._hold_ttl
            )
        except RedisError:
            log.error(
                "budget not checked: redis unavailable", extra={"subject": budget.subject}, exc_info=True
            )
            return Admission(admission_id, budget.subject, amount, ())
        if isinstance(granted, Refusal):
            raise _refused(granted, minimum, now)
        return Admission(admission_id, budget.subject, granted, current)

    async def settle(self, admission: Admission, charged: int) -> list[Alert]:
        """Move the admission to spent as `charged` credits. Returns the alerts this settle crossed first
        (of all instances); they are being published in the background."""
        if admission.done:
            return []
        admission.done = True
        if not admission.periods:
            return []
        try:
            settled = await self._repo.settle(
                admission.subject, admission.periods, _member(admission), max(0, charged), self._now()
            )
        except RedisError:
            log.error(
                "budget spend not recorded: redis unavailable",
                extra={"subject": admission.subject, "credits": charged},
                exc_info=True,
            )
            return []
        alerts = [
            Alert(admission.subject, s.period.kind, s.period.id, t, s.spent, s.period.limit, s.period.end)
            for s in settled
            for t in s.crossed
        ]
        for alert in alerts:
            task = asyncio.create_task(self._publish(alert, admission.periods))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return alerts

    async def flush(self) -> None:
        """Wait for the alerts still being published."""
        if self._pending:
            await asyncio.gather(*self._pending)

    async def release(self, admission: Admission) -> None:
        """End the admission without spending (the call failed before any output)."""
        if admission.done:
            return
        admission.done = True
        if not admission.periods:
            return
        try:
            await self._repo.release(admission.subject, admission.periods, _member(admission))
        except RedisError:
            # The admission expires on its own after hold_ttl_s.
            log.warning("budget admission not released: redis unavailable", exc_info=True)

    async def usage(self, subject: str, period: Period) -> tuple[int, int]:
        """(spent, in flight) of a subject in a period."""
        return await self._repo.usage(subject, period)

    async def _publish(self, alert: Alert, admitted: tuple[Period, ...]) -> bool:
        extra = {"budget_alert": alert.message()}
        if self._publisher is None or not self._topic:
            log.info("budget alert (not published: no topic)", extra=extra)
            return False
        try:
            await self._publisher.publish(self._topic, alert.message(), alert.attributes())
        except Exception:
            log.error("budget alert not published; the next settle retries it", extra=extra, exc_info=True)
            period = next(p for p in admitted if p.kind == alert.period)
            try:
                await self._repo.unmark_alert(alert.subject, period, alert.threshold)
            except RedisError:
                log.error("budget alert lost: redis unavailable", extra=extra, exc_info=True)
            return False
        log.info("budget alert published", extra=extra)
        return True


def _member(admission: Admission) -> str:
    return f"{admission.id}:{admission.amount}"


def _refused(refusal: Refusal, minimum: int, now: dt.datetime) -> BudgetExceeded:
    p = refusal.period
    name = "daily" if p.kind == "day" else "monthly"
    resets = p.end.isoformat().replace("+00:00", "Z")
    busy = f" and {refusal.inflight} held by calls in progress" if refusal.inflight else ""
    return BudgetExceeded(
        f"This call needs at least {minimum} credits, which would pass the {name} budget of {p.limit} "
        f"credits ({refusal.spent} spent{busy}). The budget resets at {resets}; wait for it, or ask for a "
        "higher budget.",
        headers={
            "Retry-After": str(max(1, math.ceil((p.end - now).total_seconds()))),
            "X-Budget-Period": p.kind,
            "X-Budget-Reset": resets,
        },
    )
