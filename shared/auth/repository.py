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
    )


def _new_user(
    email: str, password_hash: str | None, google_sub: str | None, at: dt.datetime
) -> dict[str, Any]:
    return {
        "email": email,
        "password_hash": password_hash,
        "google_sub": google_sub,
        "created_at": at,
        "welcome_granted": False,
    }


class UserRepository:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db

    async def create(self, user_id: str, email: str, password_hash: str, at: dt.datetime) -> UserRecord:
        """Create a password account; raises EmailTaken if the email already belongs to an account."""
        email_ref = self._db.collection(USER_EMAILS).document(email)
        user_ref = self._db.collection(USERS).document(user_id)
        data = _new_user(email, password_hash, None, at)

        async def body(tx: firestore.AsyncTransaction) -> bool:
            if (await email_ref.get(transaction=tx)).exists:
                return False
            tx.create(email_ref, {"user_id": user_id, "created_at": at})
            tx.create(user_ref, data)
            return True

        try:
            created = await firestore.async_transactional(body)(self._db.transaction())
        except AlreadyExists:
            created = False
        if not created:
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
        self, sub: str, email: str, new_user_id: str, at: dt.datetime
    ) -> tuple[UserRecord, bool]:
        """The account linked to this Google subject, created on first sign-in: (user, created).

        An email already claimed by another account is not linked automatically: our registrations do not
        verify email ownership, so linking would hand a Google user's sign-ins to whoever pre-registered
        their address (account pre-hijacking). That case raises EmailTaken."""
        identity_ref = self._db.collection(IDENTITIES).document(f"google:{sub}")
        email_ref = self._db.collection(USER_EMAILS).document(email)
        user_ref = self._db.collection(USERS).document(new_user_id)
        data = _new_user(email, None, sub, at)

        async def body(tx: firestore.AsyncTransaction) -> str | None:
            identity = await identity_ref.get(transaction=tx)
            if identity.exists:
                return str(identity.get("user_id"))
            if (await email_ref.get(transaction=tx)).exists:
                return None
            tx.create(identity_ref, {"user_id": new_user_id, "email": email, "created_at": at})
            tx.create(email_ref, {"user_id": new_user_id, "created_at": at})
            tx.create(user_ref, data)
            return new_user_id

        # A concurrent first sign-in of the same subject makes our create() fail; the retry then finds it.
        for attempt in range(2):
            try:
                user_id = await firestore.async_transactional(body)(self._db.transaction())
                break
            except AlreadyExists:
                if attempt:
                    raise
        if user_id is None:
            raise EmailTaken("An account with this email already exists; sign in with its password.")
        if user_id == new_user_id:
            return _user(user_id, data), True
        user = await self.get(user_id)
        if user is None:
            raise RuntimeError(f"identity google:{sub} points to a missing user")
        return user, False

    async def mark_welcome_granted(self, user_id: str) -> None:
        await self._db.collection(USERS).document(user_id).update({"welcome_granted": True})

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._db.collection(USERS).document(user_id).update({"password_hash": password_hash})
