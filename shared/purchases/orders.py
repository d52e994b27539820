"""SSLCommerz orders: `orders/{tran_id}` is written when checkout starts, and confirmed once.

Confirming asks the validation API (outside any transaction), then grants only when the status is
VALID or VALIDATED and the tran_id, amount (exact Decimal) and currency equal the stored order. A payment
SSLCommerz flags as risky (`risk_level` "1") is held: the order's state is `review`, nothing is granted,
and no redelivery grants it (a person decides). The IPN
and the browser's redirect both confirm; the purchase is keyed by the tran_id, so they credit once. An
order for a workspace (`wallet_id` `ws-{id}`) is credited to its sharded wallet (shared/purchases/funding.py).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.clock import now
from shared.ids import new_id
from shared.purchases.errors import ProviderUnavailable
from shared.purchases.funding import Funding
from shared.purchases.price_list import SslPackage
from shared.purchases.sslcommerz import SslCommerz

log = logging.getLogger("billing.orders")

ORDERS = "orders"
PROVIDER = "sslcommerz"
PAID = frozenset({"VALID", "VALIDATED"})
RISKY = "1"  # the validation answer's risk_level: SSLCommerz asks the merchant to verify before delivering


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


class Orders:
    def __init__(self, db: firestore.AsyncClient, gateway: SslCommerz, funding: Funding) -> None:
        self._db = db
        self._gateway = gateway
        self._funding = funding

    def _ref(self, tran_id: str) -> Any:
        return self._db.collection(ORDERS).document(tran_id)

    async def create(
        self, user_id: str, wallet_id: str, package: SslPackage, workspace_id: str | None = None
    ) -> str:
        tran_id = "tr_" + new_id()
        await self._ref(tran_id).create(
            {
                "user_id": user_id,
                "wallet_id": wallet_id,
                "workspace_id": workspace_id,
                "package": package.id,
                "amount": str(package.amount),
                "currency": package.currency,
                "credits": package.credits,
                "state": "pending",
                "created_at": now(),
            }
        )
        return tran_id

    async def get(self, tran_id: str) -> dict[str, Any] | None:
        snap = await self._ref(tran_id).get()
        return snap.to_dict() if snap.exists else None

    async def confirm(self, tran_id: str, val_id: str) -> str:
        """The order's state after checking `val_id`: paid, review, mismatched, failed or unknown.

        A validation API timeout raises ProviderUnavailable and leaves the order pending.
        """
        order = await self.get(tran_id)
        if order is None:
            return "unknown"
        if order["state"] in ("paid", "review"):
            return str(order["state"])  # a held payment is released by a person, not by a redelivery
        if order.get("val_id") != val_id:  # remembered for the reconciler, should validation fail now
            await self._ref(tran_id).update({"val_id": val_id})
        answer = await self._gateway.validate(val_id)
        status = str(answer.get("status", ""))
        if status not in PAID:
            await self._mark(tran_id, "failed", val_id, f"status {status or 'missing'}")
            return "failed"
        amount = _decimal(answer.get("currency_amount", answer.get("amount")))
        currency = str(answer.get("currency_type", answer.get("currency", "")))
        if (
            answer.get("tran_id") != tran_id
            or amount is None
            or amount != Decimal(order["amount"])
            or currency != order["currency"]
        ):
            log.warning(
                "sslcommerz payment does not match its order",
                extra={"tran_id": tran_id, "val_id": val_id, "amount": str(amount), "currency": currency},
            )
            await self._mark(tran_id, "mismatched", val_id, "amount, currency or tran_id differ")
            return "mismatched"
        if str(answer.get("risk_level", "0")) == RISKY:
            log.warning(
                "sslcommerz payment flagged risky: held for review, nothing granted",
                extra={"tran_id": tran_id, "val_id": val_id, "risk_title": answer.get("risk_title")},
            )
            await self._mark(
                tran_id, "review", val_id, f"risk_level 1: {answer.get('risk_title') or 'risky'}"
            )
            return "review"
        minor = int(Decimal(order["amount"]) * 100)
        await self._funding.purchase(
            PROVIDER, tran_id, order["wallet_id"], int(order["credits"]), minor, order["currency"]
        )
        await self._ref(tran_id).update({"state": "paid", "val_id": val_id, "paid_at": now()})
        return "paid"

    async def recheck_pending(self, limit: int = 50) -> dict[str, int]:
        """Confirm pending orders whose notification came but could not be validated (the reconciler's
        part: SSLCommerz may not send the IPN again). Orders with no notification yet are left alone."""
        query = self._db.collection(ORDERS).where(filter=FieldFilter("state", "==", "pending")).limit(limit)
        counts: dict[str, int] = {}
        async for snap in query.stream():
            val_id = (snap.to_dict() or {}).get("val_id")
            if not val_id:
                continue
            try:
                state = await self.confirm(snap.id, str(val_id))
            except ProviderUnavailable:
                state = "pending"
            counts[state] = counts.get(state, 0) + 1
        return counts

    async def _mark(self, tran_id: str, state: str, val_id: str, reason: str) -> None:
        """Record a refusal, unless the order was paid meanwhile (a paid order stays paid)."""
        ref = self._ref(tran_id)

        @firestore.async_transactional
        async def body(tx: Any) -> None:
            snap = await ref.get(transaction=tx)
            if (snap.to_dict() or {}).get("state") != "paid":
                tx.update(ref, {"state": state, "val_id": val_id, "reason": reason, "checked_at": now()})

        await body(self._db.transaction())
