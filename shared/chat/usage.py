"""Per-call usage records: who called which model, the tokens, the credits, the timings, the outcome."""

from __future__ import annotations

from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.clock import now

COLLECTION = "usage"


class UsageRecorder:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self.db = db

    async def record(self, record_id: str, **fields: Any) -> None:
        await self.db.collection(COLLECTION).document(record_id).set({**fields, "created_at": now()})

    async def record_once(self, record_id: str, **fields: Any) -> bool:
        """Write the record unless it exists (a redelivered task closing the same job); True if written."""
        try:
            await self.db.collection(COLLECTION).document(record_id).create({**fields, "created_at": now()})
        except AlreadyExists:
            return False
        return True
