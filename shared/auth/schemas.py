"""Auth schemas. `Principal` is who is calling, as every route sees it; the rest are the HTTP shapes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Principal:
    user_id: str
    wallet_id: str
    auth: Literal["jwt", "api_key"]
    key_id: str | None = None
    plan: str = "free"  # the plan name (shared/plans/plans.toml): rate limits and budgets
    workspace_id: str | None = None  # spending the workspace's wallet (X-Workspace-ID), not their own


@dataclass(frozen=True)
class UserRecord:
    id: str
    email: str
    password_hash: str | None
    google_sub: str | None
    welcome_granted: bool
    plan: str | None = None  # None: settings.default_plan
    email_verified: bool = False
    state: str = "active"  # "deleting" / "deleted": DELETE /v1/me (shared/account/deletion.py)


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    user_id: str
    name: str
    prefix: str
    last4: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


# Requests. Lengths here only bound the work; the real rules (email shape, password policy) live in the
# service so that every entrypoint applies them.
class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=4096)


class RefreshRequest(BaseModel):
    # None (or no body at all): the console's HttpOnly cookie instead (run_services/api/auth_cookie.py).
    refresh_token: str | None = Field(None, min_length=1, max_length=512)


class GoogleSignIn(BaseModel):
    id_token: str = Field(min_length=1, max_length=8192)


class ApiKeyCreate(BaseModel):
    name: str = Field("", max_length=100)


# Responses.
class UserOut(BaseModel):
    id: str
    email: str
    email_verified: bool


class SignUpAccepted(BaseModel):
    """The answer to every well-formed registration, new address or known: nothing tells them apart."""

    status: Literal["verification_sent"] = "verification_sent"
    message: str = (
        "Check your inbox: we sent a link to verify your email address. Then sign in with your password "
        "(POST /v1/auth/login); your welcome credits arrive when the address is verified."
    )


class VerificationSent(BaseModel):
    status: Literal["verification_sent"] = "verification_sent"
    message: str = "We sent a new verification link to your email address; the older links still work."


class EmailVerified(BaseModel):
    status: Literal["verified", "already_verified"]
    message: str


class Account(BaseModel):
    """Who is signed in, and why they may have no credits yet."""

    id: str
    email: str
    email_verified: bool
    welcome_credits_granted: bool
    notice: str | None = Field(
        None, description="Set while something needs the user's action, e.g. verifying their email."
    )


class TokenResponse(BaseModel):
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    access_token: str
    expires_in: int
    refresh_token: str
    user: UserOut


class AuthConfig(BaseModel):
    """How this server signs people in, for a sign-in page to offer the right buttons."""

    google_client_id: str | None = Field(
        None, description="Set when Google sign-in is on: the OAuth client id for Google Identity Services."
    )


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    last4: str
    created_at: dt.datetime

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyOut:
        return cls(
            id=record.id,
            name=record.name,
            prefix=record.prefix,
            last4=record.last4,
            created_at=record.created_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. It is shown only in this response; store it now.")


class ApiKeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ApiKeyOut]
