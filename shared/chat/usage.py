"""Per-call usage records: who called which model, the tokens, the credits, the timings, the outcome."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from shared.clock import now

COLLECTION = "usage"


class UsageRecorder:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self.db = db

    async def record(self, record_id: str, **fields: Any) -> None:
        await self.db.collection(COLLECTION).document(record_id).set({**fields, "created_at": now()})
