"""Invitation tokens: HS256 JWTs naming the workspace, the invitation and the invited email, that expire.

The token proves who issued it; the invitation document decides whether it may still be used (single
use: accepting or revoking it ends it). The signing key is derived from the configured secret for this
purpose only, so an invitation can never pass as an access token or the other way round.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jwt

from shared import signed_tokens
from shared.signed_tokens import ALGORITHM, LEEWAY_S
from shared.workspaces.errors import InvalidInvitation

AUDIENCE = "workspace-invitation"


@dataclass(frozen=True)
class InviteClaims:
    workspace_id: str
    invite_id: str
    email: str


class InviteTokens:
    def __init__(self, secret: str, issuer: str) -> None:
        self._key = signed_tokens.purpose_key(secret, "workspace-invitation-v1")
        self._issuer = issuer

    def issue(self, claims: InviteClaims, issued_at: dt.datetime, expires_at: dt.datetime) -> str:
        payload = {
            "iss": self._issuer,
            "aud": AUDIENCE,
            "sub": claims.invite_id,
            "ws": claims.workspace_id,
            "email": claims.email,
            "iat": int(issued_at.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, at: dt.datetime) -> InviteClaims:
        try:
            payload = signed_tokens.decode(
                token, self._key, audience=AUDIENCE, issuer=self._issuer, check_expiry=False
            )
        except jwt.PyJWTError as exc:
            raise InvalidInvitation("the token is not one we issued") from exc
        if int(payload["exp"]) + LEEWAY_S < at.timestamp():
            raise InvalidInvitation("it has expired")
        ws, email = payload.get("ws"), payload.get("email")
        if not isinstance(ws, str) or not isinstance(email, str):
            raise InvalidInvitation("the token is incomplete")
        return InviteClaims(workspace_id=ws, invite_id=str(payload["sub"]), email=email)
