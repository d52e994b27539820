"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import Depends, Request

from shared.auth.schemas import Principal
from shared.bootstrap import Services, Workspaces
from shared.errors import Unauthorized
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.limits.ratelimit.service import RateLimits, RateLimitState
from shared.workspaces.errors import WorkspaceNotFound

WORKSPACE_HEADER = "x-workspace-id"


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


def get_workspaces(services: ServicesDep) -> Workspaces:
    return services.workspaces


WorkspacesDep = Annotated[Workspaces, Depends(get_workspaces)]


async def get_spender(request: Request, principal: CurrentPrincipal, services: ServicesDep) -> Principal:
    """Who pays for a model call. With `X-Workspace-ID: <id>` a member spends the workspace's wallet under
    its plan (rate limits, budgets, allowed models) and within their monthly limit; a workspace the
    caller is not a member of is 404, like any other workspace route."""
    workspace_id = request.headers.get(WORKSPACE_HEADER, "").strip()
    if not workspace_id:
        return principal
    return await spending_as(services.workspaces, principal, workspace_id)


async def spending_as(workspaces: Workspaces, principal: Principal, workspace_id: str) -> Principal:
    """The principal spending the workspace's wallet; 404 unless they are a member."""
    await workspaces.service.membership(principal.user_id, workspace_id)
    doc = await workspaces.service.repo.get(workspaces.service.repo.workspace_ref(workspace_id))
    if doc is None:
        raise WorkspaceNotFound()
    workspace = await workspaces.service.effective(workspace_id, doc)
    return dataclasses.replace(
        principal,
        wallet_id=workspace_wallet_base(workspace_id),
        plan=workspace.plan,
        workspace_id=workspace_id,
    )


# For every route that calls a model: the caller, paying from their own wallet or their workspace's.
Spender = Annotated[Principal, Depends(get_spender)]


def get_rate_limits(services: ServicesDep) -> RateLimits:
    return services.rate_limits


async def rate_limit(
    principal: Spender, limits: Annotated[RateLimits, Depends(get_rate_limits)]
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
