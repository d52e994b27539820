"""Accounts in Firestore: users/{id}, user_emails/{email} -> user id, identities/google:{sub} -> user id.
The email claim is created inside the same transaction as the user, so one email can only ever win once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.auth.errors import EmailTaken
from shared.auth.schemas import UserRecord

USERS = "users"
USER_EMAILS = "user_emails"
IDENTITIES = "identities"


def _user(user_id: str, data: dict[str, Any]) -> UserRecord:
    return UserRecord(
        id=user_id,
        email=data["email"],
        password_hash=data.get("password_hash"),
        google_sub=data.get("google_sub"),
        welcome_granted=bool(data.get("welcome_granted")),
        plan=data.get("plan"),
        # Accounts from before verification existed have no field: Google's are verified, others not.
        email_verified=bool(data.get("email_verified", data.get("google_sub") is not None)),
        state=str(data.get("state", "active")),
    )


def _new_user(
    email: str,
    password_hash: str | None,
    google_sub: str | None,
    at: dt.datetime,
    plan: str,
    email_verified: bool,
) -> dict[str, Any]:
    return {
        "email": email,
        "password_hash": password_hash,
        "google_sub": google_sub,
        "created_at": at,
        "welcome_granted": False,
        "plan": plan,
        "email_verified": email_verified,
        "email_verified_at": at if email_verified else None,
    }


class UserRepository:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db

    async def create(
        self,
        user_id: str,
        email: str,
        password_hash: str,
        at: dt.datetime,
        plan: str = "free",
        *,
        email_verified: bool = False,
    ) -> UserRecord:
        """Create a password account; raises EmailTaken if the email already belongs to an account."""
        data = _new_user(email, password_hash, None, at, plan, email_verified)
        if not await self._claim(email, user_id, data):
            raise EmailTaken()
        return _user(user_id, data)

    async def get(self, user_id: str) -> UserRecord | None:
        snap = await self._db.collection(USERS).document(user_id).get()
        return _user(snap.id, snap.to_dict() or {}) if snap.exists else None

    async def by_email(self, email: str) -> UserRecord | None:
        claim = await self._db.collection(USER_EMAILS).document(email).get()
        if not claim.exists:
            return None
        return await self.get(str(claim.get("user_id")))

    async def google_account(
        self, sub: str, email: str, new_user_id: str, at: dt.datetime, plan: str = "free"
    ) -> tuple[UserRecord, bool]:
        """The account linked to this Google subject, created on first sign-in: (user, created).

        An email already claimed by another account is not linked automatically: a password account may
        exist before its address is verified (or predate verification), so linking would hand a Google
        user's sign-ins to whoever pre-registered their address (account pre-hijacking). That case raises
        EmailTaken."""
        identity_ref = self._db.collection(IDENTITIES).document(f"google:{sub}")
        if linked := await self._linked(identity_ref):
            return linked, False
        data = _new_user(email, None, sub, at, plan, email_verified=True)  # Google verified it
        identity_doc = {"user_id": new_user_id, "email": email, "created_at": at}
        if await self._claim(email, new_user_id, data, (identity_ref, identity_doc)):
            return _user(new_user_id, data), True
        # Either a concurrent first sign-in of the same subject won, or the email belongs to another account.
        if linked := await self._linked(identity_ref):
            return linked, False
        raise EmailTaken("An account with this email already exists; sign in with its password.")

    async def _linked(self, identity_ref: firestore.AsyncDocumentReference) -> UserRecord | None:
        identity = await identity_ref.get()
        if not identity.exists:
            return None
        user = await self.get(str(identity.get("user_id")))
        if user is None:
            raise RuntimeError(f"identity {identity_ref.id} points to a missing user")
        return user

    async def _claim(
        self,
        email: str,
        user_id: str,
        user: dict[str, Any],
        *extra: tuple[firestore.AsyncDocumentReference, dict[str, Any]],
    ) -> bool:
        """Create the user and its email claim (and any extra documents) in one atomic commit. create()
        fails if a document exists, so of two racing claims exactly one wins, without the lock waits and
        retries a read-then-write transaction has under contention. False if a document already existed."""
        batch = self._db.batch()
        batch.create(
            self._db.collection(USER_EMAILS).document(email),
            {"user_id": user_id, "created_at": user["created_at"]},
        )
        batch.create(self._db.collection(USERS).document(user_id), user)
        for ref, doc in extra:
            batch.create(ref, doc)
        try:
            await batch.commit()
        except AlreadyExists:
            return False
        return True

    async def set_plan(self, user_id: str, plan: str) -> None:
        await self._db.collection(USERS).document(user_id).update({"plan": plan})

    async def mark_welcome_granted(self, user_id: str) -> None:
        await self._db.collection(USERS).document(user_id).update({"welcome_granted": True})

    async def mark_email_verified(self, user_id: str, at: dt.datetime) -> None:
        await (
            self._db.collection(USERS)
            .document(user_id)
            .update({"email_verified": True, "email_verified_at": at})
        )

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._db.collection(USERS).document(user_id).update({"password_hash": password_hash})
