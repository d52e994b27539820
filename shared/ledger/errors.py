"""Ledger errors, mapped to HTTP by the global AppError handler."""

from __future__ import annotations

from shared.errors import AppError, NotFound, PaymentRequired


class InsufficientCredits(PaymentRequired):
    code = "insufficient_credits"

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(
            f"This request needs at least {needed} credits but only {available} are available. "
            "Top up your credits, or ask for less (a smaller max_tokens), and retry."
        )
        self.needed = needed
        self.available = available


class HoldNotFound(NotFound):
    code = "hold_not_found"

    def __init__(self, hold_id: str) -> None:
        super().__init__(f"No hold {hold_id!r} exists in this wallet.")
        self.hold_id = hold_id


class LedgerBusy(AppError):
    """The wallet's transaction kept losing to concurrent ones; nothing was applied, retrying is safe."""

    status = 503
    type = "api_error"
    code = "ledger_busy"

    def __init__(self) -> None:
        super().__init__(
            "Your credit balance is being updated by many requests at once; retry in a moment.",
            headers={"Retry-After": "1"},
        )


class PaymentDebt(PaymentRequired):
    """A refund or dispute (or a spend settled after its hold expired) took more credits than were left:
    spending waits until the debt is paid."""

    code = "payment_debt"

    def __init__(self, debt: int) -> None:
        super().__init__(
            f"Your account owes {debt} credits: a payment was refunded or disputed after its credits "
            "were spent, or a spend finished after its reservation had lapsed. Buy credits "
            "(POST /v1/billing/checkout): the debt is paid first from "
            "the purchase, and then you can spend again."
        )
        self.debt = debt
