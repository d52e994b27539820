"""Idempotency-Key: a retried request is never charged twice.

idempotency/{id} holds the request's fingerprint and, once done, its result. The first request
creates it (state running); a retry while it runs gets 409; a retry after it finished gets the
stored result; the same key with a different body gets 422. A request that failed without any
charge deletes its record so the client can retry. A record stuck in "running" (its instance died)
is taken over after `idempotency_lock_s`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from shared.chat.schemas import CallResult
from shared.clock import now
from shared.errors import BadRequest, Conflict, Unprocessable
from shared.ids import stable_id
from shared.settings import Settings

COLLECTION = "idempotency"


@dataclass(frozen=True)
class IdempotencyLock:
    record_id: str


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 printable characters.", code="invalid_idempotency_key"
        )
    return key


class IdempotencyStore:
    def __init__(self, db: firestore.AsyncClient, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def begin(self, user_id: str, scope: str, key: str, print_: str) -> IdempotencyLock | CallResult:
        record_id = stable_id("idem", user_id, scope, check_key(key))
        ref = self.db.collection(COLLECTION).document(record_id)
        started = now()
        lock_s = self.settings.idempotency_lock_s

        @firestore.async_transactional
        async def claim(tx: firestore.AsyncTransaction) -> IdempotencyLock | CallResult:
            snap = await ref.get(transaction=tx)
            if snap.exists:
                data = snap.to_dict() or {}
                if data.get("fingerprint") != print_:
                    raise Unprocessable(
                        "This Idempotency-Key was used with a different request body; use a new key.",
                        code="idempotency_key_reused",
                    )
                if data.get("state") == "done":
                    return CallResult.model_validate(data["result"])
                if data["started_at"] > started - dt.timedelta(seconds=lock_s):
                    raise Conflict(
                        "A request with this Idempotency-Key is still running; retry when it is done.",
                        code="idempotency_in_progress",
                        headers={"Retry-After": "2"},
                    )
            tx.set(
                ref,
                {
                    "user_id": user_id,
                    "scope": scope,
                    "fingerprint": print_,
                    "state": "running",
                    "started_at": started,
                    "expires_at": started + dt.timedelta(seconds=self.settings.idempotency_ttl_s),
                },
            )
            return IdempotencyLock(record_id)

        result: IdempotencyLock | CallResult = await claim(self.db.transaction(max_attempts=10))
        return result

    async def complete(self, lock: IdempotencyLock, result: CallResult) -> None:
        await (
            self.db.collection(COLLECTION)
            .document(lock.record_id)
            .update({"state": "done", "result": result.model_dump(mode="json"), "finished_at": now()})
        )

    async def release(self, lock: IdempotencyLock) -> None:
        await self.db.collection(COLLECTION).document(lock.record_id).delete()
