"""A usage report adds records up one at a time: it reads them once, as a stream, and keeps only the sums
(so a year of history does not sit in memory)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from shared.usage.report import Totals, totals

DAY = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def stream(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "created_at": DAY + dt.timedelta(days=i % 3),
            "credits": 10,
            "model": "m-a" if i % 2 else "m-b",
            "feature": None if i % 5 else "image",
            "user_id": f"u{i % 4}",
            "input_tokens": 3,
            "output_tokens": 2,
        }


def test_totals_read_a_one_shot_stream_once_and_keep_only_sums() -> None:
    sums = totals(stream(1_000))
    report = sums.report("user:u1", DAY.date(), DAY.date() + dt.timedelta(days=2))
    assert (report.requests, report.credits) == (1_000, 10_000)
    assert [b.key for b in report.by_day] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert {b.key: b.requests for b in report.by_model} == {"m-a": 500, "m-b": 500}
    assert {b.key: b.requests for b in report.by_feature} == {"chat": 800, "image": 200}
    assert len(report.by_member) == 4
    rows = sums.csv().splitlines()
    assert rows[0].startswith("day,user_id,model,feature")
    assert len(rows) - 1 <= 3 * 4 * 2 * 2  # one row per group (day, member, model, feature), not per record


def test_an_empty_range_is_an_empty_report() -> None:
    report = Totals().report("user:x", DAY.date(), DAY.date())
    assert (report.requests, report.credits, report.by_day) == (0, 0, [])
