"""Sign-up, email verification, sign-in, token refresh and logout. Unauthenticated (but for resending the
verification link), so each call is rate-limited per address.

Register, login and Google sign-in fail closed while Redis is down (503 rate_limiter_unavailable): they
create accounts and sessions, and their limits are what stops sign-up farming and password guessing.
Refresh and the verification link fail open: a refresh token and a verification token are signed or
random secrets nobody can guess, and a signed-in user should stay signed in through a Redis outage.
Logout is not limited: it can only ever revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from run_services.api.auth_cookie import (
    clear_refresh_cookie,
    clearing_header,
    cookie_token,
    set_refresh_cookie,
)
from run_services.api.deps import CurrentPrincipal, ServicesDep, client_ip
from shared.auth.errors import InvalidToken, RefreshTokenMissing
from shared.auth.schemas import (
    Account,
    AuthConfig,
    Credentials,
    EmailVerified,
    GoogleSignIn,
    RefreshRequest,
    SignUpAccepted,
    TokenResponse,
    VerificationSent,
)


async def throttle(request: Request, services: ServicesDep) -> None:
    await services.auth.throttle(client_ip(request))


async def throttle_open(request: Request, services: ServicesDep) -> None:
    await services.auth.throttle(client_ip(request), fail_closed=False)


Throttled = Annotated[None, Depends(throttle)]
ThrottledOpen = Annotated[None, Depends(throttle_open)]

router = APIRouter(prefix="/v1/auth", tags=["auth"])
me_router = APIRouter(prefix="/v1/me", tags=["auth"])


@router.get("/config")
async def config(services: ServicesDep, _: ThrottledOpen) -> AuthConfig:
    """Public: the sign-in methods on offer (the console shows Google's button only when it is on). The
    client id is public by design: Google shows it to every visitor of a sign-in page."""
    return AuthConfig(google_client_id=services.settings.google_client_id or None)


@router.post("/register", status_code=status.HTTP_202_ACCEPTED)
async def register(
    body: Credentials, request: Request, services: ServicesDep, _: Throttled
) -> SignUpAccepted:
    """Create an account and email a verification link. The answer is the same whether the address is new
    or already has an account (whose owner is emailed instead), so it tells nobody which accounts exist;
    no tokens are returned: sign in with POST /v1/auth/login (an unverified account may sign in, and gets
    its welcome credits once the link is opened). 429 `too_many_sign_ups` past the sign-up limits."""
    return await services.auth.signup.register(body.email, body.password, client_ip(request))


@router.get("/verify-email")
async def verify_email(
    services: ServicesDep, _: ThrottledOpen, token: Annotated[str, Query(min_length=1, max_length=2048)]
) -> EmailVerified:
    """The link in the verification email: marks the address verified and grants the welcome credits
    once. Opening it again answers `already_verified`. 400 `invalid_verification_token` or
    `verification_token_expired` otherwise (ask for a new link)."""
    return await services.auth.signup.verify(token)


@router.post("/verify-email/resend", status_code=status.HTTP_202_ACCEPTED)
async def resend_verification(principal: CurrentPrincipal, services: ServicesDep) -> VerificationSent:
    """Email a new verification link to the signed-in user. 409 `email_already_verified`; 429
    `too_many_verification_emails` past the hourly limit."""
    return await services.auth.signup.resend(principal.user_id)


@router.post("/login")
async def login(
    body: Credentials, request: Request, response: Response, services: ServicesDep, _: Throttled
) -> TokenResponse:
    """Password sign-in. After several failed passwords for one account (from any address), each attempt
    must wait longer: 429 `too_many_login_attempts` with Retry-After. The refresh token is also set in
    the console's HttpOnly cookie (run_services/api/auth_cookie.py)."""
    return _with_cookie(await services.auth.login(body.email, body.password), request, response, services)


@router.post("/refresh")
async def refresh(
    request: Request,
    response: Response,
    services: ServicesDep,
    _: ThrottledOpen,
    body: RefreshRequest | None = None,
) -> TokenResponse:
    """A new access token and a new refresh token (the old one is spent). The refresh token comes in the
    body, or with no body (or no token in it) from the console's cookie, which needs the header
    `X-Requested-With: console` and a same-origin `Origin` (else 403 `cross_site_refused`). 401
    `refresh_token_missing` with neither."""
    sent = body.refresh_token if body else None
    token = sent or cookie_token(request)
    if token is None:
        raise RefreshTokenMissing()
    try:
        tokens = await services.auth.refresh(token)
    except InvalidToken as exc:
        if sent is None:  # a spent, revoked or expired cookie: cleared, so the next load does not retry it
            exc.headers = {**exc.headers, "set-cookie": clearing_header(request, services.settings)}
        raise
    return _with_cookie(tokens, request, response, services)


@router.post("/google")
async def google(
    body: GoogleSignIn, request: Request, response: Response, services: ServicesDep, _: Throttled
) -> TokenResponse:
    return _with_cookie(await services.auth.google_login(body.id_token), request, response, services)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, services: ServicesDep, body: RefreshRequest | None = None) -> Response:
    """Revoke the session of the refresh token in the body or, failing that, in the console's cookie (the
    same proof of origin as refresh), and clear the cookie. Unknown tokens are ignored (idempotent)."""
    token = (body.refresh_token if body else None) or cookie_token(request)
    if token is not None:
        await services.auth.logout(token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_refresh_cookie(response, request, services.settings)
    return response


def _with_cookie(
    tokens: TokenResponse, request: Request, response: Response, services: ServicesDep
) -> TokenResponse:
    set_refresh_cookie(response, request, services.settings, tokens.refresh_token)
    return tokens


@me_router.get("")
async def me(principal: CurrentPrincipal, services: ServicesDep) -> Account:
    """The signed-in account: whether its email is verified and, while it is not, a `notice` saying the
    welcome credits arrive once it is."""
    return await services.auth.signup.account(principal.user_id)
