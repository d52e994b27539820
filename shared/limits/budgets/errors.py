"""Budget refusals.

402, not 429: a spent budget does not come back by retrying a little later, and SDKs retry a 429 on
their own. Retry-After still says when the period resets, for clients that want to wait."""

from __future__ import annotations

from shared.errors import AppError


class BudgetExceeded(AppError):
    status = 402
    type = "budget_error"
    code = "budget_exceeded"
