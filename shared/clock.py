"""Time in one place, so tests and the ledger agree on what "now" is."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
