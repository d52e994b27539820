"""Verifying the OIDC tokens Cloud Tasks (and Pub/Sub push) attach to requests for our functions.

In the cloud every task carries `Authorization: Bearer <Google ID token>` minted for the tasks service
account, with the worker's URL as audience. The worker checks the signature against Google's certs,
the issuer, the audience and the expiry, and that the token names the expected service account. When
no audience is configured (local runs against the emulators) nothing is checked: the same code path
runs, the emulator just sends no token. Verification is synchronous (google-auth): call `verify` from
a request thread, not from an event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt
import requests
from google.auth import exceptions as google_exceptions
from google.auth.transport import requests as google_requests
from google.oauth2 import id_token

from shared.adapters.google_certs import CLOCK_SKEW_S, ISSUERS, CachingRequest
from shared.errors import Unauthorized
from shared.settings import Settings


class InvalidCaller(Unauthorized):
    code = "invalid_oidc_token"


class MissingOidcSettings(RuntimeError):
    """A startup error: the worker would accept unauthenticated steps."""


def require_jobs_oidc(settings: Settings) -> None:
    """Refuse to start a production worker that would not check its callers (local runs and tests, which
    have no OIDC tokens, are unchanged)."""
    if settings.environment != "production":
        return
    needed = {
        "JOBS_OIDC_AUDIENCE": settings.jobs_oidc_audience,
        "TASKS_SERVICE_ACCOUNT": settings.tasks_service_account,
    }
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise MissingOidcSettings(
            f"{' and '.join(missing)} must be set in production: the jobs worker checks every task's OIDC "
            "token against JOBS_OIDC_AUDIENCE (the worker's own URL) and TASKS_SERVICE_ACCOUNT (the account "
            "Cloud Tasks signs as). Set them (Terraform's jobs_env does) and deploy again."
        )


class OidcVerifier:
    def __init__(
        self,
        audience: str | None,
        service_account: str | None = None,
        certs_url: str = "https://www.googleapis.com/oauth2/v1/certs",
    ) -> None:
        self.audience = audience
        self._service_account = service_account
        self._certs_url = certs_url
        self._request = CachingRequest(google_requests.Request(session=requests.Session()))

    @classmethod
    def for_jobs(cls, settings: Settings) -> OidcVerifier:
        require_jobs_oidc(settings)
        return cls(settings.jobs_oidc_audience, settings.tasks_service_account, settings.google_certs_url)

    @property
    def enabled(self) -> bool:
        return bool(self.audience)

    def verify(self, authorization: str | None) -> Mapping[str, Any] | None:
        """The token's claims, None when verification is off; raises InvalidCaller."""
        if not self.audience:
            return None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidCaller("This endpoint is called by Cloud Tasks with an OIDC token; none was sent.")
        try:
            if jwt.get_unverified_header(token.strip()).get("alg") != "RS256":
                raise InvalidCaller("The OIDC token is not valid.")
            claims: Mapping[str, Any] = id_token.verify_token(
                token.strip(),
                self._request,
                audience=self.audience,
                certs_url=self._certs_url,
                clock_skew_in_seconds=CLOCK_SKEW_S,
            )
        except google_exceptions.TransportError as exc:
            # Not the caller's fault: answer 5xx so Cloud Tasks retries later.
            raise InvalidCaller("Google's signing keys could not be fetched.", status=503) from exc
        except (google_exceptions.GoogleAuthError, jwt.InvalidTokenError, ValueError) as exc:
            raise InvalidCaller("The OIDC token is not valid.") from exc
        if claims.get("iss") not in ISSUERS:
            raise InvalidCaller("The OIDC token has the wrong issuer.")
        if self._service_account and (
            claims.get("email") != self._service_account or claims.get("email_verified") not in (True, "true")
        ):
            raise InvalidCaller("The OIDC token was not issued to the tasks service account.")
        return claims
