"""Google sign-in: verify a Google ID token (signature against Google's certs, aud, exp, iss, email_verified).
google-auth is synchronous, so verification runs in a worker thread; the transport (and its HTTP session)
is built once per instance, and the certs are cached for as long as Google's Cache-Control allows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import jwt
import requests
from google.auth import exceptions as google_exceptions
from google.auth.transport import requests as google_requests
from google.oauth2 import id_token

from shared.adapters.google_certs import CLOCK_SKEW_S, ISSUERS, CachingRequest
from shared.auth.errors import GoogleSignInDisabled, InvalidToken
from shared.errors import UpstreamUnavailable
from shared.settings import Settings


@dataclass(frozen=True)
class GoogleIdentity:
    sub: str
    email: str


class GoogleVerifier:
    def __init__(self, settings: Settings) -> None:
        self._client_id = settings.google_client_id
        self._certs_url = settings.google_certs_url
        self._request = CachingRequest(google_requests.Request(session=requests.Session()))

    async def verify(self, token: str) -> GoogleIdentity:
        if not self._client_id:
            raise GoogleSignInDisabled()
        claims = await anyio.to_thread.run_sync(self._verify, token)
        sub, email = claims.get("sub"), claims.get("email")
        if claims.get("iss") not in ISSUERS:
            raise InvalidToken("The Google ID token has the wrong issuer.")
        # Older tokens carry the string "true".
        if claims.get("email_verified") not in (True, "true"):
            raise InvalidToken(
                "The Google account's email address is not verified.", code="email_not_verified"
            )
        if not isinstance(sub, str) or not sub or not isinstance(email, str) or not email:
            raise InvalidToken("The Google ID token has no subject or email.")
        return GoogleIdentity(sub=sub, email=email)

    def _verify(self, token: str) -> Mapping[str, Any]:
        try:
            # Google signs ID tokens with RS256 only: refuse any other alg before google-auth picks one.
            if jwt.get_unverified_header(token).get("alg") != "RS256":
                raise InvalidToken("The Google ID token is not valid.")
            claims: Mapping[str, Any] = id_token.verify_token(
                token,
                self._request,
                audience=self._client_id,
                certs_url=self._certs_url,
                clock_skew_in_seconds=CLOCK_SKEW_S,
            )
        except google_exceptions.TransportError as exc:
            raise UpstreamUnavailable("Google's signing keys could not be fetched; retry shortly.") from exc
        except (google_exceptions.GoogleAuthError, jwt.InvalidTokenError, ValueError) as exc:
            raise InvalidToken("The Google ID token is not valid.") from exc
        return claims
