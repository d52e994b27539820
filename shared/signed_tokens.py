"""Signed tokens, one purpose each (HS256 JWTs): access tokens, workspace invitations, email verification.

Each purpose names its own audience, and invitations and verification links sign with a key derived from
the configured secret for that purpose only, so a token made for one purpose never passes as another."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt

ALGORITHM = "HS256"
LEEWAY_S = 5  # clock skew between instances
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss"]


def purpose_key(secret: str, purpose: str) -> str:
    """A signing key for one purpose, derived from the secret (the secret itself signs nothing else)."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def decode(token: str, key: str, *, audience: str, issuer: str, check_expiry: bool = True) -> dict[str, Any]:
    """The claims of a token signed with `key` for `audience` by `issuer`, every standard claim present;
    raises jwt.ExpiredSignatureError (when `check_expiry`) or another jwt.PyJWTError."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=audience,
        issuer=issuer,
        leeway=LEEWAY_S,
        options={"require": REQUIRED_CLAIMS, "verify_exp": check_expiry},
    )
    return claims
