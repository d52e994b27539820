"""Password hashing (Argon2id, off the event loop) and the rules for emails and passwords."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.auth.errors import InvalidEmail, WeakPassword

T = TypeVar("T")

MIN_PASSWORD = 10
MAX_PASSWORD = 256

# Deliberately stricter than RFC 5322: no quoted local parts, no IP literals, no "/" (not allowed in a
# Firestore document id), and a dotted domain.
_ATOM = r"[a-z0-9!#$%&'*+=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_EMAIL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*\.[a-z]{{2,63}}$")


def normalise_email(raw: str) -> str:
    """Strip and lower-case, then validate; raises InvalidEmail."""
    email = raw.strip().lower()
    local, _, _domain = email.partition("@")
    if len(email) > 254 or len(local) > 64 or not _EMAIL.fullmatch(email):
        raise InvalidEmail()
    return email


def check_password_policy(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise WeakPassword(f"The password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long.")
    if not password.strip():
        raise WeakPassword("The password must not be only whitespace.")


class Passwords:
    """Argon2id with argon2-cffi's RFC 9106 defaults (64 MiB per hash); hashing runs in worker threads."""

    def __init__(self, hasher: PasswordHasher | None = None, max_parallel: int = 4) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        self._max_parallel = max_parallel
        self._slots: anyio.CapacityLimiter | None = None

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """False on a mismatch. With no hash (unknown user) it verifies against a dummy hash anyway, so
        the answer takes as long as for a real account."""
        if password_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash("dummy password, never matches")
            await self._run(self._verify, self._dummy, password)
            return False
        return await self._run(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    async def _run(self, func: Callable[..., T], *args: str) -> T:
        # Each hash takes 64 MiB: bound how many run at once rather than use anyio's 40 default threads,
        # or a burst of logins could exhaust a small instance's memory. Created lazily: it needs a loop.
        if self._slots is None:
            self._slots = anyio.CapacityLimiter(self._max_parallel)
        return await anyio.to_thread.run_sync(func, *args, limiter=self._slots)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
