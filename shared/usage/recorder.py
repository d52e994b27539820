"""Per-call usage records: who called which model, the tokens, the credits, the timings, the outcome.

Each record carries `expire_at` (created_at + the retention): Firestore's TTL policy on that field
(terraform/modules/firestore) deletes records older than the retention, so the collection does not grow
forever. Usage reports cover at most `usage_max_days`, which must stay below the retention.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.clock import now

COLLECTION = "usage"
DEFAULT_RETENTION_DAYS = 400


class UsageRecorder:
    def __init__(self, db: firestore.AsyncClient, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self.db = db
        self.retention = dt.timedelta(days=retention_days)

    def _stamped(self, fields: dict[str, Any]) -> dict[str, Any]:
        at = now()
        return {**fields, "created_at": at, "expire_at": at + self.retention}

    async def record(self, record_id: str, **fields: Any) -> None:
        await self.db.collection(COLLECTION).document(record_id).set(self._stamped(fields))

    async def record_once(self, record_id: str, **fields: Any) -> bool:
        """Write the record unless it exists (a redelivered task closing the same job); True if written."""
        try:
            await self.db.collection(COLLECTION).document(record_id).create(self._stamped(fields))
        except AlreadyExists:
            return False
        return True
