"""API keys in Firestore (a repository): api_keys/{sha256(key)}, so a presented key is one document read.
The key itself is never stored; `id` is the short public handle used to list and delete it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.cloud import firestore
from google.cloud.firestore import FieldFilter

from shared.auth.schemas import ApiKeyRecord

API_KEYS = "api_keys"


def _record(data: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=data["id"],
        user_id=data["user_id"],
        name=data.get("name", ""),
        prefix=data["prefix"],
        last4=data["last4"],
        created_at=data["created_at"],
        revoked_at=data.get("revoked_at"),
    )


class ApiKeyRepository:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db

    async def add(self, key_hash: str, record: ApiKeyRecord) -> None:
        await (
            self._db.collection(API_KEYS)
            .document(key_hash)
            .create(
                {
                    "id": record.id,
                    "user_id": record.user_id,
                    "name": record.name,
                    "prefix": record.prefix,
                    "last4": record.last4,
                    "created_at": record.created_at,
                    "revoked_at": None,
                }
            )
        )

    async def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        snap = await self._db.collection(API_KEYS).document(key_hash).get()
        return _record(snap.to_dict() or {}) if snap.exists else None

    async def active_for(self, user_id: str) -> list[ApiKeyRecord]:
        query = self._db.collection(API_KEYS).where(filter=FieldFilter("user_id", "==", user_id))
        records = [_record(snap.to_dict() or {}) async for snap in query.stream()]
        return sorted((r for r in records if r.revoked_at is None), key=lambda r: r.created_at)

    async def count_active(self, user_id: str) -> int:
        """How many of the user's keys are not revoked (an aggregation query: no documents are read)."""
        query = (
            self._db.collection(API_KEYS)
            .where(filter=FieldFilter("user_id", "==", user_id))
            .where(filter=FieldFilter("revoked_at", "==", None))
        )
        result = await query.count().get()
        return int(result[0][0].value)

    async def revoke(self, user_id: str, key_id: str, at: dt.datetime) -> bool:
        """Revoke the caller's key with this public id; False if there is none (or it is someone else's)."""
        query = (
            self._db.collection(API_KEYS)
            .where(filter=FieldFilter("user_id", "==", user_id))
            .where(filter=FieldFilter("id", "==", key_id))
        )
        async for snap in query.stream():
            if snap.get("revoked_at") is None:
                await snap.reference.update({"revoked_at": at})
                return True
        return False
