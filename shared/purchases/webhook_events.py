"""Webhook events stored under the provider's event id before they are handled.

`claim` creates `payment_events/{id}` if absent and leases it to this delivery; a duplicate of an
event already handled is acknowledged and does nothing. A duplicate of an event being handled under a
live lease is `busy`: it must not be acknowledged, since the provider stops retrying an event once one
delivery is answered 2xx, and the delivery holding the lease may still fail or die (then only a retry
finishes the event). A lease that ran out (the delivery that held it died) is taken over: handling is
idempotent anyway.

Each record carries `expire_at`: Firestore's TTL policy deletes it after the retention (default 90
days). Providers stop retrying long before that (Stripe: 3 days), and a very late duplicate would still
change nothing: purchases, clawbacks and grants are idempotent by the payment's own ids.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from google.api_core.exceptions import Aborted, AlreadyExists, FailedPrecondition
from google.cloud import firestore

from shared.clock import now
from shared.ids import stable_id

EVENTS = "payment_events"

Claim = Literal["handle", "duplicate", "busy"]


class EventStore:
    def __init__(self, db: firestore.AsyncClient, lease_s: int, retention_days: int = 90) -> None:
        self._db = db
        self._lease = dt.timedelta(seconds=lease_s)
        self._retention = dt.timedelta(days=retention_days)

    def _ref(self, provider: str, event_id: str) -> Any:
        return self._db.collection(EVENTS).document(stable_id(provider, event_id))

    async def claim(self, provider: str, event_id: str, event_type: str) -> Claim:
        ref = self._ref(provider, event_id)
        at = now()
        try:
            await ref.create(
                {
                    "provider": provider,
                    "event_id": event_id,
                    "type": event_type,
                    "state": "received",
                    "received_at": at,
                    "lease_until": at + self._lease,
                    "attempts": 1,
                    "expire_at": at + self._retention,
                }
            )
            return "handle"
        except AlreadyExists:
            pass
        snap = await ref.get()
        doc = snap.to_dict() or {}
        if doc.get("state") == "handled":
            return "duplicate"
        if doc.get("lease_until", at) > at:
            return "busy"
        try:  # take over a dead delivery's lease, unless another delivery just did
            await ref.update(
                {"lease_until": at + self._lease, "attempts": doc.get("attempts", 1) + 1},
                option=self._db.write_option(last_update_time=snap.update_time),
            )
        except (FailedPrecondition, Aborted):
            return "busy"
        return "handle"

    async def done(self, provider: str, event_id: str, outcome: str, refused: bool = False) -> None:
        """Handled. `refused`: the event was a payment we granted nothing for (`refused` holds its code,
        for a person to look at); a redelivery is still a duplicate."""
        fields = {"state": "handled", "outcome": outcome, "handled_at": now()}
        if refused:
            fields["refused"] = outcome
        await self._ref(provider, event_id).update(fields)

    async def release(self, provider: str, event_id: str) -> None:
        """Handling failed: let the provider's retry take it at once."""
        await self._ref(provider, event_id).update({"lease_until": now()})
