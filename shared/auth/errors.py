"""Auth failures. Every 401 carries `WWW-Authenticate` so clients know to re-authenticate (RFC 6750)."""

from __future__ import annotations

from shared.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)


def _bearer(error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer error="{error}"'}


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"

    def __init__(self) -> None:
        # One message for unknown email and wrong password: never reveal which accounts exist.
        super().__init__("The email or password is incorrect.")


class InvalidToken(Unauthorized):
    code = "invalid_token"

    def __init__(self, message: str = "The token is not valid.", *, code: str | None = None) -> None:
        super().__init__(message, code=code, headers=_bearer("invalid_token"))


class TokenExpired(InvalidToken):
    def __init__(self, message: str = "The token has expired; refresh it or sign in again.") -> None:
        super().__init__(message, code="token_expired")


class RefreshTokenReused(InvalidToken):
    def __init__(self) -> None:
        super().__init__(
            "This refresh token was already used; every session of its family is now signed out.",
            code="refresh_token_reused",
        )


class InvalidApiKey(InvalidToken):
    def __init__(self) -> None:
        super().__init__("The API key is not valid or was deleted.", code="invalid_api_key")


class EmailTaken(Conflict):
    code = "email_taken"

    def __init__(self, message: str = "An account with this email already exists.") -> None:
        super().__init__(message)


class InvalidEmail(Unprocessable):
    code = "invalid_email"

    def __init__(self) -> None:
        super().__init__("The email address is not valid.")


class WeakPassword(Unprocessable):
    code = "weak_password"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"

    def __init__(self) -> None:
        super().__init__("No API key with this id.")


class GoogleSignInDisabled(NotFound):
    code = "google_sign_in_disabled"

    def __init__(self) -> None:
        super().__init__("Google sign-in is not configured on this server.")


class SessionRequired(Forbidden):
    """A leaked API key must not be able to mint, list or revoke keys (and so outlive its own revocation)."""

    code = "session_required"

    def __init__(self) -> None:
        super().__init__(
            "API keys are managed from a signed-in session: use an access token from /v1/auth/login, "
            "not an API key."
        )


class TooManyApiKeys(Conflict):
    code = "too_many_api_keys"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You already have {limit} API keys, the most an account may have; delete one first."
        )


class RateLimiterUnavailable(ServiceUnavailable):
    """Sign-up and sign-in fail closed while Redis (their rate limits) is down, instead of unlimited."""

    code = "rate_limiter_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Sign-up and sign-in are paused because their rate limiter is unavailable; retry in a minute.",
            headers={"Retry-After": "30"},
        )


class TooManySignUps(RateLimited):
    code = "too_many_sign_ups"

    def __init__(self, seconds: int, scope: str) -> None:
        super().__init__(
            f"Too many accounts were created {scope} recently; retry in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


class LoginBackoff(RateLimited):
    """Too many failed passwords for one account, from wherever they came."""

    code = "too_many_login_attempts"

    def __init__(self, seconds: int) -> None:
        super().__init__(
            f"Too many failed sign-ins for this account; wait {seconds} s before trying again.",
            headers={"Retry-After": str(seconds)},
        )


class TooManyVerificationEmails(RateLimited):
    code = "too_many_verification_emails"

    def __init__(self, seconds: int) -> None:
        super().__init__(
            f"A verification email was sent recently; check your inbox (and spam), or retry in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


class InvalidVerificationToken(BadRequest):
    code = "invalid_verification_token"

    def __init__(self) -> None:
        super().__init__(
            "This verification link is not valid; sign in and ask for a new one "
            "(POST /v1/auth/verify-email/resend)."
        )


class VerificationTokenExpired(BadRequest):
    code = "verification_token_expired"

    def __init__(self) -> None:
        super().__init__(
            "This verification link has expired; sign in and ask for a new one "
            "(POST /v1/auth/verify-email/resend)."
        )


class EmailAlreadyVerified(Conflict):
    code = "email_already_verified"

    def __init__(self) -> None:
        super().__init__("Your email address is already verified; there is nothing to resend.")


class EmailNotVerified(Forbidden):
    code = "email_not_verified"

    def __init__(self, action: str) -> None:
        super().__init__(
            f"Verify your email address before you {action}: click the link we sent you, or ask for a new "
            "one (POST /v1/auth/verify-email/resend)."
        )


class RefreshTokenMissing(InvalidToken):
    def __init__(self) -> None:
        super().__init__(
            "No refresh token: send it in the body, or (from the console) in its cookie; or sign in again.",
            code="refresh_token_missing",
        )


class CrossSiteRefused(Forbidden):
    """The refresh cookie is sent by the browser on its own: only the console's own pages may use it."""

    code = "cross_site_refused"

    def __init__(self) -> None:
        super().__init__(
            "The session cookie is only accepted from the console's own pages (same origin, with the "
            "X-Requested-With: console header)."
        )
