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


def _buckets(records: Iterable[dict[str, Any]], key: Any) -> list[Bucket]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        sums[key(record)][0] += 1
        sums[key(record)][1] += int(record.get("credits") or 0)
    return [Bucket(key=k, requests=v[0], credits=v[1]) for k, v in sorted(sums.items())]


def summarise(records: list[dict[str, Any]], scope: str, start: dt.date, end: dt.date) -> UsageReport:
    return UsageReport(
        scope=scope,
        start=start,
        end=end,
        requests=len(records),
        credits=sum(int(r.get("credits") or 0) for r in records),
        by_day=_buckets(records, _day),
        by_model=_buckets(records, lambda r: str(r.get("model"))),
        by_feature=_buckets(records, _feature),
        by_member=_buckets(records, lambda r: str(r.get("user_id"))),
    )


CSV_COLUMNS = ["day", "user_id", "model", "feature", "requests", "credits", "input_tokens", "output_tokens"]


def to_csv(records: list[dict[str, Any]]) -> str:
    """One row per day, member, model and feature."""
    rows: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in records:
        row = rows[(_day(r), str(r.get("user_id")), str(r.get("model")), _feature(r))]
        row[0] += 1
        row[1] += int(r.get("credits") or 0)
        row[2] += int(r.get("input_tokens") or 0)
        row[3] += int(r.get("output_tokens") or 0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for key in sorted(rows):
        writer.writerow([*key, *rows[key]])
    return out.getvalue()
