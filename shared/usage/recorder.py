"""Per-call usage records: who called which model, the tokens, the credits, the timings, the outcome.

Each record carries `expire_at` (created_at + the retention): Firestore's TTL policy on that field
(terraform/modules/firestore) deletes records older than the retention, so the collection does not grow
forever. Usage reports cover at most `usage_max_days`, which must stay below the retention.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.clock import now

COLLECTION = "usage"
IN_LIMIT = 30  # Firestore's most values in one `in` filter
DEFAULT_RETENTION_DAYS = 400


# Told of every record written (its id and fields): call metrics (shared/telemetry/call_metrics.py) and
# LLM traces (shared/telemetry/llm_traces.py). An observer that raises is logged, never the caller's error.
# `traced` is the call's content when its workspace opted in to content in traces (else None): it goes to
# the observers only, never into the record or a log line.
Observer = Callable[[str, dict[str, Any], dict[str, Any] | None], None]
log = logging.getLogger("usage")


class UsageRecorder:
    def __init__(
        self,
        db: firestore.AsyncClient,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        *observers: Observer,
    ) -> None:
        self.db = db
        self.retention = dt.timedelta(days=retention_days)
        self.observers = observers

    def tell(self, record_id: str, fields: dict[str, Any], traced: dict[str, Any] | None = None) -> None:
        for observer in self.observers:
            try:
                observer(record_id, fields, traced)
            except Exception:
                log.warning("usage observer failed", exc_info=True)

    def stamped(self, fields: dict[str, Any]) -> dict[str, Any]:
        at = now()
        return {**fields, "created_at": at, "expire_at": at + self.retention}

    def document(self, record_id: str) -> Any:
        """The record's document, for a caller that writes it in a transaction of its own (a credit
        lease's flush writes its calls' records with its progress: shared/spending/leases.py)."""
        return self.db.collection(COLLECTION).document(record_id)

    async def record(self, record_id: str, traced: dict[str, Any] | None = None, **fields: Any) -> None:
        await self.db.collection(COLLECTION).document(record_id).set(self.stamped(fields))
        self.tell(record_id, fields, traced)

    async def record_once(self, record_id: str, **fields: Any) -> bool:
        """Write the record unless it exists (a redelivered task closing the same job); True if written."""
        try:
            await self.db.collection(COLLECTION).document(record_id).create(self.stamped(fields))
        except AlreadyExists:
            return False
        self.tell(record_id, fields)
        return True

    async def records(
        self,
        start: dt.date,
        end: dt.date,
        user_id: str | None = None,
        wallets: list[str] | None = None,
        fields: list[str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """The usage records of the UTC days start..end: of `user_id`, or charged to one of `wallets`, or
        both, streamed (only `fields` when given), so a caller can add them up without holding them all.
        Production needs the composite indexes (user_id, created_at) and (wallet_id, created_at)."""
        lo = dt.datetime.combine(start, dt.time(), dt.UTC)
        hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
        base = (
            self.db.collection(COLLECTION)
            .where(filter=FieldFilter("created_at", ">=", lo))
            .where(filter=FieldFilter("created_at", "<", hi))
        )
        if user_id is not None:
            base = base.where(filter=FieldFilter("user_id", "==", user_id))
        if fields is not None:
            base = base.select(fields)
        groups = (
            [None]
            if wallets is None
            else [wallets[i : i + IN_LIMIT] for i in range(0, len(wallets), IN_LIMIT)]
        )
        for group in groups:
            query = base if group is None else base.where(filter=FieldFilter("wallet_id", "in", group))
            async for snap in query.stream():
                yield snap.to_dict() or {}
