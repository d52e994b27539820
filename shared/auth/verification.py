"""Email verification tokens: HS256 JWTs naming the user and the address, that expire.

Nothing is stored: the token proves we issued it for this user and address, and verifying is idempotent
(a second click finds the account verified and grants nothing more), so no single-use record is needed.
The key is derived from the JWT secret for this purpose only, so a verification token never passes as an
access token or an invitation, nor the other way round."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jwt

from shared import signed_tokens
from shared.auth.errors import InvalidVerificationToken, VerificationTokenExpired
from shared.signed_tokens import ALGORITHM

AUDIENCE = "email-verification"


@dataclass(frozen=True)
class VerifyClaims:
    user_id: str
    email: str


class VerifyTokens:
    def __init__(self, secret: str, issuer: str, ttl_s: int) -> None:
        self._key = signed_tokens.purpose_key(secret, "email-verification-v1")
        self._issuer = issuer
        self._ttl_s = ttl_s

    def issue(self, user_id: str, email: str, at: dt.datetime) -> str:
        now = int(at.timestamp())
        payload = {
            "iss": self._issuer,
            "aud": AUDIENCE,
            "sub": user_id,
            "email": email,
            "iat": now,
            "exp": now + self._ttl_s,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> VerifyClaims:
        """The claims of a token we issued; raises VerificationTokenExpired or InvalidVerificationToken."""
        try:
            payload = signed_tokens.decode(token, self._key, audience=AUDIENCE, issuer=self._issuer)
        except jwt.ExpiredSignatureError as exc:
            raise VerificationTokenExpired() from exc
        except jwt.PyJWTError as exc:
            raise InvalidVerificationToken() from exc
        sub, email = payload.get("sub"), payload.get("email")
        if not isinstance(sub, str) or not sub or not isinstance(email, str) or not email:
            raise InvalidVerificationToken()
        return VerifyClaims(sub, email)
