"""Refresh-token sessions in Firestore (a repository). refresh_tokens/{sha256(token)}: user_id, family_id,
state (active | rotated), expires_at; refresh_families/{family_id}: user_id, revoked. Rotating a token
keeps its family; presenting an already rotated token again means it was stolen or replayed, so the whole
family is revoked (OAuth 2.0 Security BCP, refresh token rotation)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from google.cloud import firestore

from shared import ids

TOKENS = "refresh_tokens"
FAMILIES = "refresh_families"

Outcome = Literal["rotated", "unknown", "revoked", "expired", "reused"]


@dataclass(frozen=True)
class Rotation:
    outcome: Outcome
    user_id: str | None = None


class SessionRepository:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db

    async def start(self, user_id: str, token_hash: str, at: dt.datetime, expires_at: dt.datetime) -> str:
        """A new family with its first active token; returns the family id."""
        family_id = ids.new_id()
        batch = self._db.batch()
        batch.create(
            self._db.collection(FAMILIES).document(family_id),
            {"user_id": user_id, "revoked": False, "created_at": at},
        )
        batch.create(
            self._db.collection(TOKENS).document(token_hash), _token(user_id, family_id, at, expires_at)
        )
        await batch.commit()
        return family_id

    async def rotate(
        self, old_hash: str, new_hash: str, at: dt.datetime, expires_at: dt.datetime
    ) -> Rotation:
        old_ref = self._db.collection(TOKENS).document(old_hash)
        new_ref = self._db.collection(TOKENS).document(new_hash)

        # Returns an outcome instead of raising: an exception would roll back the family revocation.
        async def body(tx: firestore.AsyncTransaction) -> Rotation:
            old = await old_ref.get(transaction=tx)
            if not old.exists:
                return Rotation("unknown")
            user_id, family_id = str(old.get("user_id")), str(old.get("family_id"))
            family_ref = self._db.collection(FAMILIES).document(family_id)
            family = await family_ref.get(transaction=tx)
            if not family.exists or family.get("revoked"):
                return Rotation("revoked", user_id)
            if old.get("state") != "active":
                tx.update(family_ref, {"revoked": True, "revoked_at": at, "revoked_reason": "reuse"})
                return Rotation("reused", user_id)
            if old.get("expires_at") <= at:
                return Rotation("expired", user_id)
            tx.update(old_ref, {"state": "rotated", "rotated_at": at})
            tx.create(new_ref, _token(user_id, family_id, at, expires_at))
            return Rotation("rotated", user_id)

        result: Rotation = await firestore.async_transactional(body)(self._db.transaction())
        return result

    async def revoke_family_of(self, token_hash: str, at: dt.datetime) -> bool:
        """Revoke the family of this token (logout); False if the token is unknown."""
        token = await self._db.collection(TOKENS).document(token_hash).get()
        if not token.exists:
            return False
        family_ref = self._db.collection(FAMILIES).document(str(token.get("family_id")))
        await family_ref.set({"revoked": True, "revoked_at": at, "revoked_reason": "logout"}, merge=True)
        return True


def _token(user_id: str, family_id: str, at: dt.datetime, expires_at: dt.datetime) -> dict[str, object]:
    return {
        "user_id": user_id,
        "family_id": family_id,
        "state": "active",
        "created_at": at,
        "expires_at": expires_at,
    }
