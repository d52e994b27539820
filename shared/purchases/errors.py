"""Billing errors, mapped to HTTP by the global AppError handler (and by the payments function)."""

from __future__ import annotations

from shared.errors import AppError, BadRequest, Conflict


class BadSignature(BadRequest):
    """The webhook is not provably from the provider: nothing is recorded."""

    code = "bad_signature"


class NoBillingAccount(Conflict):
    code = "no_billing_account"

    def __init__(self) -> None:
        super().__init__(
            "You have no Stripe billing account yet: buy credits or a plan first "
            "(POST /v1/billing/checkout), then open the portal."
        )


class ProviderUnavailable(AppError):
    """The payment provider did not answer in time; nothing changed, retrying is safe."""

    status = 503
    type = "api_error"
    code = "payment_provider_unavailable"


class AlreadySubscribed(Conflict):
    code = "already_subscribed"

    def __init__(self) -> None:
        super().__init__(
            "This wallet already has a live subscription: change its plan or seats in the customer portal "
            "(POST /v1/billing/portal) instead of buying a second one."
        )
