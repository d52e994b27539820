"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.auth.schemas import Principal
from shared.bootstrap import Services
from shared.errors import Unauthorized
from shared.plans import plans_for
from shared.ratelimit.service import RateLimits, RateLimitState


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(request: Request, services: ServicesDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthorized(
            "Send `Authorization: Bearer <access token or API key>`.",
            code="missing_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await services.auth.authenticate(credential.strip())


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_rate_limits(request: Request) -> RateLimits:
    """The instance's rate limits: `services.rate_limits` once bootstrap wires it, else built on first use
    from the services' Redis and the plans file."""
    services = get_services(request)
    wired: RateLimits | None = getattr(services, "rate_limits", None)
    if wired is not None:
        return wired
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is None:
        limits = RateLimits(services.redis, plans_for(services.settings))
        request.app.state.rate_limits = limits
    return limits


async def rate_limit(
    principal: CurrentPrincipal, limits: Annotated[RateLimits, Depends(get_rate_limits)]
) -> RateLimitState:
    """One request from the caller's per-minute buckets (user and API key), or 429 with Retry-After.
    Routes copy `state.headers()` onto their response (X-RateLimit-*)."""
    return await limits.check_request(principal)


# For every route that calls a model (chat, thread messages, jobs).
RateLimitDep = Annotated[RateLimitState, Depends(rate_limit)]


def client_ip(request: Request) -> str:
    """The caller's address. Cloud Run's front end appends the address it saw to X-Forwarded-For, so the
    last hop is the one nobody can forge; earlier entries are whatever the client sent."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[-1].strip()
    return request.client.host if request.client else "unknown"


def request_id(request: Request) -> str:
    rid: str = request.scope.get("state", {}).get("request_id", "")
    return rid
