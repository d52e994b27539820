"""The payments function's work, one method per route: verify, store once, handle, answer.

Answers are (HTTP status, JSON body). 4xx: the request is not genuine and nothing was recorded, except
409: another delivery of the same Stripe event is being handled, retry later. 5xx: something we depend
on failed and the provider should retry (Stripe and SSLCommerz both do).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from shared.adapters.secrets import SecretSource
from shared.errors import AppError, BadRequest
from shared.purchases.orders import Orders
from shared.purchases.signatures import verify_sslcommerz, verify_stripe
from shared.purchases.stripe_events import REFUSED, StripeEvents
from shared.purchases.webhook_events import EventStore
from shared.settings import Settings

log = logging.getLogger("billing.webhooks")

Answer = tuple[int, dict[str, Any]]


class PaymentWebhooks:
    def __init__(
        self,
        settings: Settings,
        secrets: SecretSource,
        events: EventStore,
        stripe: StripeEvents,
        orders: Orders,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._events = events
        self._stripe = stripe
        self._ssl_password = secrets.get("SSLCOMMERZ_STORE_PASSWORD") or ""
        self.orders = orders

    async def stripe(self, headers: Mapping[str, str], body: bytes) -> Answer:
        secrets = [s.strip() for s in (self._secrets.get("STRIPE_WEBHOOK_SECRETS") or "").split(",")]
        try:
            verify_stripe(
                headers.get("Stripe-Signature"),
                body,
                [s for s in secrets if s],
                int(time.time()),
                self._settings.stripe_webhook_tolerance_s,
                self._settings.stripe_webhook_skew_s,
            )
            event = json.loads(body)
            if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
                raise BadRequest("The body is not a Stripe event.")
        except (AppError, ValueError) as exc:
            log.warning("stripe webhook refused", extra={"reason": str(exc)})
            return _refusal(exc)
        event_id, kind = str(event["id"]), str(event["type"])
        claim = await self._events.claim("stripe", event_id, kind)
        if claim == "duplicate":
            return 200, {"received": True, "duplicate": True}
        if claim == "busy":  # not acknowledged: should that delivery fail, only Stripe's retry finishes it
            return 409, {"error": "another delivery of this event is being handled; Stripe will retry"}
        try:
            outcome = await self._stripe.handle(event)
        except Exception:
            log.exception("stripe event failed", extra={"event_id": event_id, "type": kind})
            await self._events.release("stripe", event_id)
            return 500, {"error": "handling failed; Stripe will retry"}
        refused = outcome in REFUSED
        await self._events.done("stripe", event_id, outcome, refused=refused)
        (log.warning if refused else log.info)(
            "stripe payment refused: nothing granted" if refused else "stripe event handled",
            extra={"event_id": event_id, "type": kind, "outcome": outcome},
        )
        return 200, {"received": True, "outcome": outcome}

    async def sslcommerz(self, form: Mapping[str, str]) -> Answer:
        """The IPN, and the browser's success redirect: verify_sign, then the validation API, then grant.

        The notification is stored under its val_id first, like a Stripe event: while one delivery
        confirms it, the others (the IPN racing the redirect) only report the order's state.
        """
        try:
            verify_sslcommerz(form, self._ssl_password)
            tran_id, val_id = form.get("tran_id", ""), form.get("val_id", "")
            if not tran_id or not val_id:
                raise BadRequest("tran_id and val_id are required.")
        except AppError as exc:
            log.warning("sslcommerz notification refused", extra={"reason": exc.message})
            return exc.status, exc.body()
        # Being handled elsewhere: reported as it stands (the reconciler re-validates a notified order
        # that stays pending, so this answer need not make SSLCommerz retry).
        if await self._events.claim("sslcommerz", val_id, "notification") != "handle":
            order = await self.orders.get(tran_id)
            return (200 if order else 404), {
                "tran_id": tran_id,
                "state": (order or {}).get("state", "unknown"),
            }
        try:
            state = await self.orders.confirm(tran_id, val_id)
        except AppError as exc:
            log.warning("sslcommerz notification not applied", extra={"reason": exc.message})
            await self._events.release("sslcommerz", val_id)
            return exc.status, exc.body()
        await self._events.done("sslcommerz", val_id, state)
        log.info("sslcommerz order checked", extra={"tran_id": tran_id, "state": state})
        return (404 if state == "unknown" else 200), {"tran_id": tran_id, "state": state}


def _refusal(exc: Exception) -> Answer:
    if isinstance(exc, AppError):
        return exc.status, exc.body()
    return 400, BadRequest("The body is not JSON.").body()
