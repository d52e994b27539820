"""The console's refresh token in an HttpOnly cookie (issue 17), so a reload keeps the session while no
script on the page can read the token.

Login, refresh and Google sign-in set it (`HttpOnly; SameSite=Strict; Path=/v1/auth`, and `Secure`
unless settings.refresh_cookie_secure says otherwise or the request is plain http to a loopback address);
logout clears it. The body still carries the token for API clients, who ignore the cookie.

A browser sends a cookie on its own, so the two routes that read it (refresh and logout) accept it only
from the console's own pages: the request must carry `X-Requested-With: console` (a header a cross-origin
page cannot add without a CORS preflight, which the API refuses for it) and, when the browser says where
it comes from (`Origin`), that origin must be the API's own host.
SameSite=Strict already keeps the cookie off cross-site requests; these checks do not rely on it."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request, Response

from shared.auth.errors import CrossSiteRefused
from shared.settings import Settings

COOKIE = "refresh_token"
PATH = "/v1/auth"
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "console"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _secure(request: Request, settings: Settings) -> bool:
    if settings.refresh_cookie_secure is not None:
        return settings.refresh_cookie_secure
    return not (request.url.scheme == "http" and request.url.hostname in LOOPBACK)


def set_refresh_cookie(response: Response, request: Request, settings: Settings, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.refresh_token_ttl_s,
        path=PATH,
        secure=_secure(request, settings),
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, secure=_secure(request, settings), httponly=True, samesite="strict"
    )


def clearing_header(request: Request, settings: Settings) -> str:
    """The Set-Cookie value that clears the cookie, for an error answer (which has no Response yet)."""
    response = Response()
    clear_refresh_cookie(response, request, settings)
    return response.headers["set-cookie"]


def cookie_token(request: Request) -> str | None:
    """The refresh token from the cookie, once the request proved it comes from the console's own page;
    None when there is no cookie. Raises CrossSiteRefused when the cookie came without that proof."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    if request.headers.get(CSRF_HEADER, "").lower() != CSRF_VALUE:
        raise CrossSiteRefused()
    origin = request.headers.get("origin")
    # The host only: behind the load balancer the app sees http while the page's origin is https.
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise CrossSiteRefused()
    return token
