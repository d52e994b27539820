"""What each Stripe event does.

The event is already verified and claimed (shared/purchases/webhook_events.py).

Payments are keyed by their PaymentIntent id (the session, the charge and the dispute all name it), so
a refund or dispute finds the purchase whatever order the events come in. The wallet of a payment comes
from the metadata our Checkout Sessions set (`wallet_id`, also copied onto the PaymentIntent and the
subscription): a user's wallet, or a workspace's `ws-{id}`, whose payments land on its shard 0 and are
spread over its shards (shared/purchases/funding.py). A subscription's allotment expires at the end of the
invoice's period; top-ups don't expire. A dispute closed as won gives back what it clawed back, once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from shared.ledger.wallet_ids import ledger_wallet
from shared.purchases.disputes import Disputes
from shared.purchases.funding import Funding
from shared.purchases.invoices import Refusal, worth
from shared.purchases.price_list import BillingConfig
from shared.purchases.repository import BillingRepository

log = logging.getLogger("billing.stripe")

PROVIDER = "stripe"

# Outcomes that refuse a payment (nothing granted): recorded on the event as `refused` for a person to see.
REFUSED = frozenset(
    {
        "amount_mismatch",
        "not_a_period_invoice",
        "no_plan_line",
        "unknown_price",
        "no_seats_added",
        "unknown_package",
    }
)


def _meta(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {str(k): str(v) for k, v in meta.items()}


def _id(value: Any) -> str | None:
    """A Stripe reference: an id string, or an expanded object with an id."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


class StripeEvents:
    def __init__(
        self, repo: BillingRepository, config: BillingConfig, funding: Funding, disputes: Disputes
    ) -> None:
        self._config = config
        self._funding = funding
        self._disputes = disputes
        self._repo = repo

    async def handle(self, event: dict[str, Any]) -> str:
        """Apply one event; return a short outcome for the event record and the logs."""
        kind = str(event.get("type", ""))
        obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
        handler = {
            "checkout.session.completed": self._session_completed,
            "checkout.session.async_payment_succeeded": self._session_completed,
            "invoice.paid": self._invoice_paid,
            "customer.subscription.created": self._subscription,
            "customer.subscription.updated": self._subscription,
            "customer.subscription.deleted": self._subscription,
            "charge.refunded": self._charge_refunded,
            "charge.dispute.created": self._dispute_created,
            "charge.dispute.closed": self._dispute_closed,
        }.get(kind)
        if handler is None:
            return "ignored"
        return await handler(obj, int(event.get("created") or 0))

    async def _session_completed(self, session: dict[str, Any], created: int) -> str:
        meta = _meta(session)
        wallet_id = meta.get("wallet_id") or session.get("client_reference_id")
        if not wallet_id:
            return "no_wallet"
        customer = _id(session.get("customer"))
        if customer:
            await self._repo.set_customer(wallet_id, PROVIDER, customer)
        if session.get("mode") == "subscription":
            subscription = _id(session.get("subscription"))
            if subscription:
                await self._repo.link_subscription(
                    subscription, ledger_wallet(wallet_id), meta.get("plan"), customer
                )
            return "subscription_started"  # its allotments come with invoice.paid
        if session.get("payment_status") != "paid":
            return "awaiting_payment"  # async methods finish with checkout.session.async_payment_succeeded
        package = self._config.stripe_packages.get(meta.get("package", ""))
        if package is None:
            log.error("paid session names no known package", extra={"session": session.get("id")})
            return "unknown_package"
        payment_id = _id(session.get("payment_intent")) or str(session["id"])
        paid, currency = session.get("amount_total"), str(session.get("currency") or "").lower()
        if paid != package.amount_minor or currency != package.currency:
            log.warning(
                "paid session does not match its package: nothing granted",
                extra={
                    "session": session.get("id"),
                    "package": package.id,
                    "paid": paid,
                    "currency": currency,
                },
            )
            return "amount_mismatch"
        outcome = await self._funding.purchase(
            PROVIDER, payment_id, wallet_id, package.credits, package.amount_minor, package.currency
        )
        return "granted" if outcome.applied else "already_granted"

    async def _invoice_paid(self, invoice: dict[str, Any], created: int) -> str:
        """A subscription's paid invoice: what it is worth (shared/purchases/invoices.py), granted once
        under its payment, expiring at the end of its period."""
        subscription = _id(invoice.get("subscription")) or _id(
            ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        )
        record = (await self._repo.subscription(subscription) if subscription else None) or {}
        meta = _meta((invoice.get("parent") or {}).get("subscription_details") or {})
        meta |= _meta(invoice.get("subscription_details") or {})
        wallet_id = record.get("wallet_id") or meta.get("wallet_id")
        invoice_id = str(invoice["id"])
        if not wallet_id:
            log.error("paid invoice with no wallet", extra={"invoice": invoice_id})
            return "no_wallet_or_plan"
        paid = int(invoice.get("amount_paid") or 0)
        if paid <= 0:
            return "nothing_paid"  # a trial, a full discount, or a decrease (a credit on the balance)
        value = worth(invoice, self._config, _known_periods(record))
        if isinstance(value, Refusal):
            log.warning(
                "paid invoice refused: nothing granted",
                extra={"invoice": invoice_id, "code": value.code, "detail": value.detail},
            )
            return value.code
        payment_id = _id(invoice.get("payment_intent")) or invoice_id
        outcome = await self._funding.purchase(
            PROVIDER,
            payment_id,
            wallet_id,
            value.credits,
            paid,
            str(invoice.get("currency")).lower(),
            expires_at=dt.datetime.fromtimestamp(value.end, dt.UTC),
        )
        if value.seats is not None and value.start is not None and subscription:
            await self._repo.record_period(subscription, value.start, value.end, value.seats)
        if not outcome.applied:
            return "already_granted"
        return "allotment_granted" if value.seats is not None else "seats_granted"

    async def _subscription(self, sub: dict[str, Any], created: int) -> str:
        price, seats = _subscription_item(sub)
        plan = self._config.plan_for_price(price)
        fields = {
            "customer": _id(sub.get("customer")),
            "status": sub.get("status") or "canceled",
            "plan": plan.id if plan else None,
            "price": price,
            "seats": seats,
            "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
            "current_period_start": _period(sub, "current_period_start"),
            "current_period_end": _period(sub, "current_period_end"),
        }
        hint = _meta(sub).get("wallet_id")
        wallet_hint = ledger_wallet(hint) if hint else None
        applied = await self._repo.update_subscription(str(sub["id"]), fields, created, wallet_hint)
        return "subscription_recorded" if applied else "subscription_stale"

    async def _charge_refunded(self, charge: dict[str, Any], created: int) -> str:
        refunded = int(charge.get("amount_refunded") or 0)
        if refunded <= 0:
            return "nothing_refunded"
        charge_id = str(charge["id"])
        outcome = await self._funding.claw_back(
            PROVIDER,
            _id(charge.get("payment_intent")) or charge_id,
            f"{charge_id}:refunded:{refunded}",
            f"refund:{charge_id}",
            refunded,
            wallet_hint=_meta(charge).get("wallet_id"),
        )
        return f"clawback_{outcome.state}" if outcome.applied else "clawback_replayed"

    async def _dispute_created(self, dispute: dict[str, Any], created: int) -> str:
        dispute_id = str(dispute["id"])
        outcome = await self._funding.claw_back(
            PROVIDER,
            _dispute_payment(dispute),
            dispute_id,
            f"dispute:{dispute_id}",
            int(dispute.get("amount") or 0),
            wallet_hint=_meta(dispute).get("wallet_id"),
        )
        return f"clawback_{outcome.state}" if outcome.applied else "clawback_replayed"

    async def _dispute_closed(self, dispute: dict[str, Any], created: int) -> str:
        """Won: what the dispute clawed back comes back, once. Lost (or any other end): nothing changes,
        the clawback stands."""
        status = str(dispute.get("status") or "unknown")
        if status != "won":
            return f"dispute_{status}"
        reversal = await self._disputes.won(PROVIDER, _dispute_payment(dispute), str(dispute["id"]))
        return f"dispute_won_{reversal.state}"


def _dispute_payment(dispute: dict[str, Any]) -> str:
    """The payment a dispute is about, named as its purchase was (the PaymentIntent when there is one)."""
    return _id(dispute.get("payment_intent")) or _id(dispute.get("charge")) or str(dispute["id"])


def _period(sub: dict[str, Any], field: str) -> Any:
    """A subscription's period bound: on the subscription (older API versions) or on its item (newer)."""
    items = (sub.get("items") or {}).get("data") or []
    return sub.get(field) or (items[0].get(field) if items else None)


def _known_periods(record: dict[str, Any]) -> list[tuple[int, int]]:
    """The subscription's periods as recorded: by its last period invoice, and by its last event."""
    pairs = (("period_start", "period_end"), ("current_period_start", "current_period_end"))
    return [(int(record[a]), int(record[b])) for a, b in pairs if record.get(a) and record.get(b)]


def _subscription_item(sub: dict[str, Any]) -> tuple[str | None, int]:
    items = (sub.get("items") or {}).get("data") or []
    if not items:
        return None, int(sub.get("quantity") or 1)
    return _id(items[0].get("price")), max(int(items[0].get("quantity") or 1), 1)
