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

    def to_doc(self) -> dict[str, Any]:
        """For a call that ends in another process (a job): stored with it, settled from there."""
        return {
            "id": self.id,
            "subject": self.subject,
            "amount": self.amount,
            "periods": [
                {"kind": p.kind, "id": p.id, "limit": p.limit, "start": p.start, "end": p.end}
                for p in self.periods
            ],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Admission:
        periods = tuple(
            Period(p["kind"], p["id"], int(p["limit"]), _utc(p["start"]), _utc(p["end"]))
            for p in doc.get("periods", [])
        )
        return cls(str(doc["id"]), str(doc["subject"]), int(doc["amount"]), periods)


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


def _utc(value: Any) -> dt.datetime:
    """Firestore gives datetimes back as its own UTC subclass; keep plain aware datetimes."""
    when: dt.datetime = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return dt.datetime.fromtimestamp(when.timestamp(), dt.UTC)
