"""Budgets: spending caps in credits per subject (a user now, a workspace later) per UTC day and month."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

PeriodKind = Literal["day", "month"]

ALERT_THRESHOLDS = (50, 80, 100)  # percent of a period's budget


@dataclass(frozen=True)
class Budget:
    """A subject's caps; 0 means no cap for that period."""

    subject: str  # "user:<id>", "workspace:<id>"
    daily: int = 0
    monthly: int = 0


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    id: str  # "2026-11-27" or "2026-11" (UTC)
    limit: int
    start: dt.datetime
    end: dt.datetime


@dataclass
class Admission:
    """Credits a call may spend, counted as in flight until it is settled or released (or expires)."""

    id: str
    subject: str
    amount: int
    periods: tuple[Period, ...]
    done: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Alert:
    subject: str
    period: PeriodKind
    period_id: str
    threshold: int
    spent: int
    budget: int
    resets_at: dt.datetime

    def message(self) -> dict[str, Any]:
        return {
            "type": "budget.threshold_crossed",
            "subject": self.subject,
            "period": self.period,
            "period_id": self.period_id,
            "threshold_percent": self.threshold,
            "spent": self.spent,
            "budget": self.budget,
            "resets_at": self.resets_at.isoformat(),
        }

    def attributes(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "period": self.period,
            "period_id": self.period_id,
            "threshold": str(self.threshold),
        }
