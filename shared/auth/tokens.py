"""Access tokens: short-lived HS256 JWTs, verified as RFC 8725 asks (one pinned algorithm; iss, aud, exp
always checked). Refresh tokens and API keys are opaque random strings, stored only as their SHA-256."""

from __future__ import annotations

import logging
import secrets as pysecrets
from dataclasses import dataclass

import jwt

from shared import clock, ids, signed_tokens
from shared.adapters.secrets import SecretSource
from shared.auth.errors import InvalidToken, TokenExpired
from shared.settings import Settings
from shared.signed_tokens import ALGORITHM

log = logging.getLogger(__name__)

MIN_SECRET_CHARS = 32  # RFC 7518 3.2: an HS256 key must be at least 256 bits.


def signing_secret(settings: Settings, source: SecretSource) -> str:
    """The JWT secret from settings or the secret store. Missing or short in production is fatal at startup;
    elsewhere a missing one is replaced by a per-process random secret (tokens then die with the process)."""
    configured = settings.jwt_secret.get_secret_value() if settings.jwt_secret else source.get("JWT_SECRET")
    if settings.environment == "production" and (not configured or len(configured) < MIN_SECRET_CHARS):
        raise RuntimeError(f"JWT_SECRET must be set to at least {MIN_SECRET_CHARS} characters in production.")
    if not configured:
        log.warning("JWT_SECRET is not set: using a random per-process secret")
        return pysecrets.token_urlsafe(48)
    return configured


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


class AccessTokens:
    def __init__(self, secret: str, issuer: str, audience: str, ttl_s: int) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl_s = ttl_s

    def issue(self, user_id: str) -> IssuedToken:
        now = int(clock.now().timestamp())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl_s,
            "jti": ids.new_id(),
            "typ": "access",
        }
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM, headers={"typ": "at+jwt"})
        return IssuedToken(token, self._ttl_s)

    def verify(self, token: str) -> str:
        """The user id (sub) of a valid access token; raises TokenExpired or InvalidToken."""
        try:
            claims = signed_tokens.decode(token, self._secret, audience=self._audience, issuer=self._issuer)
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired() from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken() from exc
        # A token of another kind signed with the same secret must not pass as an access token.
        sub = claims.get("sub")
        if claims.get("typ") != "access" or not isinstance(sub, str) or not sub:
            raise InvalidToken()
        return sub


def new_refresh_token() -> str:
    return ids.token(32)


def new_api_key() -> str:
    return "sk-" + ids.token(32)


def digest(secret: str) -> str:
    """The stored form of a refresh token or API key: a high-entropy secret needs no salt or slow hash."""
    return ids.sha256_hex(secret)
