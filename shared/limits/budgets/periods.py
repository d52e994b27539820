"""UTC days and months: the periods a budget is counted in, named by their date."""

from __future__ import annotations

import datetime as dt

from shared.limits.budgets.schemas import Budget, Period


def day(now: dt.datetime, limit: int) -> Period:
    start = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Period("day", start.strftime("%Y-%m-%d"), limit, start, start + dt.timedelta(days=1))


def month(now: dt.datetime, limit: int) -> Period:
    start = now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return Period("month", start.strftime("%Y-%m"), limit, start, end)


def current(budget: Budget, now: dt.datetime) -> tuple[Period, ...]:
    """The capped periods `now` falls in (a period without a cap is not counted at all)."""
    periods = []
    if budget.daily > 0:
        periods.append(day(now, budget.daily))
    if budget.monthly > 0:
        periods.append(month(now, budget.monthly))
    return tuple(periods)
