"""Webhook events stored under the provider's event id before they are handled.

`claim` creates `payment_events/{id}` if absent and leases it to this delivery; a duplicate of an
event already handled, or being handled under a live lease, is acknowledged and does nothing. A lease
that ran out (the delivery that held it died) is taken over: handling is idempotent anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from google.api_core.exceptions import Aborted, AlreadyExists, FailedPrecondition
from google.cloud import firestore

from shared.clock import now
from shared.ids import stable_id

EVENTS = "payment_events"

Claim = Literal["handle", "duplicate"]


class EventStore:
    def __init__(self, db: firestore.AsyncClient, lease_s: int) -> None:
        self._db = db
        self._lease = dt.timedelta(seconds=lease_s)

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
                }
            )
            return "handle"
        except AlreadyExists:
            pass
        snap = await ref.get()
        doc = snap.to_dict() or {}
        if doc.get("state") == "handled" or doc.get("lease_until", at) > at:
            return "duplicate"
        try:  # take over a dead delivery's lease, unless another delivery just did
            await ref.update(
                {"lease_until": at + self._lease, "attempts": doc.get("attempts", 1) + 1},
                option=self._db.write_option(last_update_time=snap.update_time),
            )
        except (FailedPrecondition, Aborted):
            return "duplicate"
        return "handle"

    async def done(self, provider: str, event_id: str, outcome: str) -> None:
        await self._ref(provider, event_id).update(
            {"state": "handled", "outcome": outcome, "handled_at": now()}
        )

    async def release(self, provider: str, event_id: str) -> None:
        """Handling failed: let the provider's retry take it at once."""
        await self._ref(provider, event_id).update({"lease_until": now()})
