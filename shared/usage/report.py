"""Spend reports from the per-call usage records (`usage/{id}`: user_id, wallet_id, model, credits,
created_at, outcome, ...): totals by UTC day, model, feature and member, as JSON or CSV rows.

A member sees their own records; an admin of a workspace sees every record charged to the workspace's
wallet shards. The records come from UsageRecorder.records (shared/usage/recorder.py); this module only
adds them up.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from shared.errors import BadRequest


class Bucket(BaseModel):
    key: str
    requests: int
    credits: int


class UsageReport(BaseModel):
    object: str = "usage_report"
    scope: str
    start: dt.date
    end: dt.date
    requests: int
    credits: int
    by_day: list[Bucket]
    by_model: list[Bucket]
    by_feature: list[Bucket]
    by_member: list[Bucket]


def date_range(
    start: dt.date | None, end: dt.date | None, today: dt.date, max_days: int
) -> tuple[dt.date, dt.date]:
    """The inclusive range asked for (default: the last 30 days), or BadRequest when it makes no sense."""
    end = end or today
    start = start or end - dt.timedelta(days=29)
    if start > end:
        raise BadRequest("`start` must be on or before `end` (dates as YYYY-MM-DD).", code="invalid_range")
    if (end - start).days + 1 > max_days:
        raise BadRequest(f"Ask for at most {max_days} days at a time.", code="range_too_long")
    return start, end


def _feature(record: dict[str, Any]) -> str:
    return str(record.get("feature") or "chat")


def _day(record: dict[str, Any]) -> str:
    at: dt.datetime = record["created_at"]
    return at.astimezone(dt.UTC).date().isoformat()


class Totals:
    """The report's sums, taken one record at a time: memory grows with the groups (days, models,
    features, members), never with how many records the range holds."""

    def __init__(self) -> None:
        self.requests = 0
        self.credits = 0
        self._by: dict[str, dict[str, list[int]]] = {
            name: defaultdict(lambda: [0, 0]) for name in ("day", "model", "feature", "member")
        }
        self._rows: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def add(self, record: dict[str, Any]) -> None:
        credits = int(record.get("credits") or 0)
        day, model, feature = _day(record), str(record.get("model")), _feature(record)
        member = str(record.get("user_id"))
        self.requests += 1
        self.credits += credits
        for name, key in (("day", day), ("model", model), ("feature", feature), ("member", member)):
            self._by[name][key][0] += 1
            self._by[name][key][1] += credits
        row = self._rows[(day, member, model, feature)]
        row[0] += 1
        row[1] += credits
        row[2] += int(record.get("input_tokens") or 0)
        row[3] += int(record.get("output_tokens") or 0)

    def _buckets(self, name: str) -> list[Bucket]:
        return [Bucket(key=k, requests=v[0], credits=v[1]) for k, v in sorted(self._by[name].items())]

    def report(self, scope: str, start: dt.date, end: dt.date) -> UsageReport:
        return UsageReport(
            scope=scope,
            start=start,
            end=end,
            requests=self.requests,
            credits=self.credits,
            by_day=self._buckets("day"),
            by_model=self._buckets("model"),
            by_feature=self._buckets("feature"),
            by_member=self._buckets("member"),
        )

    def csv(self) -> str:
        """One row per day, member, model and feature."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for key in sorted(self._rows):
            writer.writerow([*key, *self._rows[key]])
        return out.getvalue()


CSV_COLUMNS = ["day", "user_id", "model", "feature", "requests", "credits", "input_tokens", "output_tokens"]
# The fields a report reads: the query asks for these only.
FIELDS = ["created_at", "credits", "model", "feature", "user_id", "input_tokens", "output_tokens"]


def totals(records: Iterable[dict[str, Any]]) -> Totals:
    """The sums of `records`, read once (a generator is fine)."""
    out = Totals()
    for record in records:
        out.add(record)
    return out
