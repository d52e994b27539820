"""Billing documents: `billing_customers/{wallet}` (the Stripe customer of the wallet paid for: a user's,
or a workspace's `ws-{id}`) and `subscriptions/{id}` (plan, seats, status, and `wallet_id`, the ledger
wallet its allotments land on: a workspace's shard 0, which the workspace service reads plan and seats
for)."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.audit import trail as audit
from shared.audit.trail import AuditTrail
from shared.clock import now

CUSTOMERS = "billing_customers"
SUBSCRIPTIONS = "subscriptions"
IN_FORCE = ("active", "trialing", "past_due")  # the plan and seats apply
LIVE = ("active", "trialing", "past_due", "incomplete", "unpaid")


class BillingRepository:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db
        self._audit = AuditTrail(db)

    async def set_customer(self, wallet_id: str, provider: str, customer: str) -> None:
        await (
            self._db.collection(CUSTOMERS)
            .document(wallet_id)
            .set({provider: customer, "updated_at": now()}, merge=True)
        )

    async def customer(self, wallet_id: str, provider: str) -> str | None:
        snap = await self._db.collection(CUSTOMERS).document(wallet_id).get()
        value = (snap.to_dict() or {}).get(provider)
        return str(value) if value else None

    async def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        snap = await self._db.collection(SUBSCRIPTIONS).document(subscription_id).get()
        return snap.to_dict() if snap.exists else None

    async def live_subscription(self, wallet_id: str) -> str | None:
        """The id of a subscription billing this ledger wallet that is not over (canceled or expired)."""
        query = self._db.collection(SUBSCRIPTIONS).where(filter=FieldFilter("wallet_id", "==", wallet_id))
        async for snap in query.stream():
            if (snap.to_dict() or {}).get("status") in LIVE:
                return str(snap.id)
        return None

    async def active_subscription(self, wallet_id: str) -> dict[str, Any] | None:
        """The subscription record billing this wallet whose plan applies now (active, trialing or past
        due), the newest by its event time; None without one."""
        query = self._db.collection(SUBSCRIPTIONS).where(filter=FieldFilter("wallet_id", "==", wallet_id))
        live = [
            doc async for snap in query.stream() if (doc := snap.to_dict() or {}).get("status") in IN_FORCE
        ]
        return max(live, key=lambda d: int(d.get("event_created", 0))) if live else None

    async def link_subscription(
        self, subscription_id: str, wallet_id: str, plan: str | None, customer: str | None
    ) -> None:
        fields = {"wallet_id": wallet_id, "customer": customer, "updated_at": now()}
        if plan:
            fields["plan_requested"] = plan
        await self._db.collection(SUBSCRIPTIONS).document(subscription_id).set(fields, merge=True)

    async def record_period(self, subscription_id: str, start: int, end: int, seats: int) -> None:
        """The period a paid invoice opened and the seats it paid for, unless a later period is recorded:
        what a proration within that period is measured against."""
        ref = self._db.collection(SUBSCRIPTIONS).document(subscription_id)

        @firestore.async_transactional
        async def body(tx: Any) -> None:
            snap = await ref.get(transaction=tx)
            if int((snap.to_dict() or {}).get("period_end") or 0) <= end:
                fields = {"period_start": start, "period_end": end, "seats_paid": seats, "updated_at": now()}
                tx.set(ref, fields, merge=True)

        await body(self._db.transaction())

    async def update_subscription(
        self, subscription_id: str, fields: dict[str, Any], event_created: int, wallet_hint: str | None
    ) -> bool:
        """Record the subscription's state from an event, unless a newer event was recorded already."""
        ref = self._db.collection(SUBSCRIPTIONS).document(subscription_id)

        @firestore.async_transactional
        async def body(tx: Any) -> bool:
            snap = await ref.get(transaction=tx)
            doc = snap.to_dict() or {}
            if int(doc.get("event_created", 0)) > event_created:
                return False
            update = {**fields, "event_created": event_created, "updated_at": now()}
            if not doc.get("wallet_id") and wallet_hint:
                update["wallet_id"] = wallet_hint
            tx.set(ref, update, merge=True)
            item = plan_change(subscription_id, doc, update, event_created)
            if item is not None:
                self._audit.add(tx, item)
                changes.append(item)
            return True

        changes: list[audit.AuditEntry] = []
        applied: bool = await body(self._db.transaction())
        for item in changes[-1:]:
            audit.emit(item)
        return applied


PLAN_FIELDS = ("plan", "seats", "status")


def plan_change(
    subscription_id: str, before: dict[str, Any], after: dict[str, Any], event_created: int
) -> audit.AuditEntry | None:
    """A `plan.change` entry when a subscription's plan, seats or status changed; None when nothing did."""
    old = {k: before.get(k) for k in PLAN_FIELDS}
    new = {k: after.get(k, before.get(k)) for k in PLAN_FIELDS}
    wallet_id = after.get("wallet_id") or before.get("wallet_id")
    if old == new or not wallet_id:
        return None
    details: dict[str, audit.Detail] = {f"old_{k}": v for k, v in old.items()} | new
    key = f"{subscription_id}:{event_created}:" + ":".join(str(v) for v in new.values())
    return audit.entry(
        "plan.change",
        "system:stripe",
        key=key,
        wallet_id=str(wallet_id),
        target=subscription_id,
        details=details,
    )
