"""Workspaces: create, list, read; members (roles, monthly limits, remove, leave); invitations; the
wallet's balance; the plan catalog. Every route checks the caller's role in the service; a caller who is
not a member of a workspace gets 404 for anything of it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from run_services.api.deps import (
    CurrentPrincipal,
    InvitationId,
    MemberId,
    ServicesDep,
    WorkspaceId,
    WorkspacesDep,
)
from shared.auth.repository import UserRepository
from shared.auth.schemas import UserRecord
from shared.errors import Unauthorized
from shared.ledger.schemas import ExpiringCredits
from shared.ledger.wallet_ids import shard_wallets, workspace_wallet_base
from shared.plans.offers import PlanOffer
from shared.workspaces.schemas import (
    Invitation,
    InvitationCreated,
    InviteAccept,
    InviteCreate,
    Member,
    MemberList,
    MemberUpdate,
    WorkspaceCreate,
    WorkspaceList,
    WorkspaceOut,
    WorkspaceUpdate,
)

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])
plans_router = APIRouter(prefix="/v1/plans", tags=["workspaces"])


class InvitationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Invitation]


class WalletView(BaseModel):
    available: int
    reserved: int
    shards: int
    my_monthly_limit: int | None
    my_used_this_month: int
    expiring: list[ExpiringCredits]  # plan credits that expire (summed over the shards), soonest first


class PlanList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PlanOffer]


async def _email(services: ServicesDep, user_id: str) -> str:
    return (await _user(services, user_id)).email


async def _user(services: ServicesDep, user_id: str) -> UserRecord:
    user = await UserRepository(services.db).get(user_id)
    if user is None:
        raise Unauthorized("Your account no longer exists; sign in again.", code="unknown_user")
    return user


@plans_router.get("")
async def list_plans(workspaces: WorkspacesDep) -> PlanList:
    """The plans: credits per seat per month, seat price, seats, allowed models and rate limits."""
    return PlanList(data=workspaces.service.offers.all())


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_workspace(
    body: WorkspaceCreate, principal: CurrentPrincipal, services: ServicesDep, workspaces: WorkspacesDep
) -> WorkspaceOut:
    """Create a workspace; you are its owner."""
    email = await _email(services, principal.user_id)
    return await workspaces.service.create(principal.user_id, email, body.name)


@router.get("")
async def list_workspaces(principal: CurrentPrincipal, workspaces: WorkspacesDep) -> WorkspaceList:
    return WorkspaceList(data=await workspaces.service.list_mine(principal.user_id))


@router.post("/invitations/accept")
async def accept_invitation(
    body: InviteAccept, principal: CurrentPrincipal, services: ServicesDep, workspaces: WorkspacesDep
) -> WorkspaceOut:
    """Join the workspace of an invitation sent to your email address."""
    user = await _user(services, principal.user_id)
    return await workspaces.invitations.accept(
        user.id, user.email, body.token, email_verified=user.email_verified
    )


@router.get("/{workspace_id}")
async def get_workspace(
    workspace_id: WorkspaceId, principal: CurrentPrincipal, workspaces: WorkspacesDep
) -> WorkspaceOut:
    return await workspaces.service.get(principal.user_id, workspace_id)


@router.patch("/{workspace_id}")
async def update_workspace(
    workspace_id: WorkspaceId, body: WorkspaceUpdate, principal: CurrentPrincipal, workspaces: WorkspacesDep
) -> WorkspaceOut:
    """Change the workspace's settings (owners and admins): `share_response_cache` lets members be served
    each other's cached answers (off by default)."""
    return await workspaces.service.update(principal.user_id, workspace_id, body.share_response_cache)


@router.get("/{workspace_id}/wallet")
async def get_wallet(
    workspace_id: WorkspaceId, principal: CurrentPrincipal, workspaces: WorkspacesDep, services: ServicesDep
) -> WalletView:
    """The workspace's credits (the sum of its wallet shards), your monthly limit and what you used."""
    balance, shards = await workspaces.balance(principal.user_id, workspace_id)
    base = workspace_wallet_base(workspace_id)
    parts = await asyncio.gather(*(services.ledger.expiring(w) for w in shard_wallets(base, shards)))
    expiring: dict[dt.datetime, int] = defaultdict(int)
    for lot in (lot for part in parts for lot in part):
        expiring[lot.expires_at] += lot.amount
    me = await workspaces.service.membership(principal.user_id, workspace_id)
    used = await workspaces.spending.used(workspace_id, principal.user_id)
    return WalletView(
        available=balance.available,
        reserved=balance.reserved,
        shards=shards,
        my_monthly_limit=me.get("monthly_limit"),
        my_used_this_month=used,
        expiring=[ExpiringCredits(amount=n, expires_at=at) for at, n in sorted(expiring.items())],
    )


@router.get("/{workspace_id}/members")
async def list_members(
    workspace_id: WorkspaceId, principal: CurrentPrincipal, workspaces: WorkspacesDep
) -> MemberList:
    return MemberList(data=await workspaces.service.members(principal.user_id, workspace_id))


@router.patch("/{workspace_id}/members/{user_id}")
async def update_member(
    workspace_id: WorkspaceId,
    user_id: MemberId,
    body: MemberUpdate,
    principal: CurrentPrincipal,
    workspaces: WorkspacesDep,
) -> Member:
    """Change a member's role (owners) or monthly credit limit (admins)."""
    return await workspaces.service.update_member(
        principal.user_id, workspace_id, user_id, body.role, body.monthly_limit, body.clear_limit
    )


@router.delete("/{workspace_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    workspace_id: WorkspaceId, user_id: MemberId, principal: CurrentPrincipal, workspaces: WorkspacesDep
) -> Response:
    await workspaces.service.remove(principal.user_id, workspace_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{workspace_id}/leave", status_code=status.HTTP_204_NO_CONTENT)
async def leave_workspace(
    workspace_id: WorkspaceId, principal: CurrentPrincipal, workspaces: WorkspacesDep
) -> Response:
    """Leave the workspace. The last owner cannot: make someone else an owner first."""
    await workspaces.service.remove(principal.user_id, workspace_id, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{workspace_id}/invitations", status_code=status.HTTP_201_CREATED)
async def invite(
    workspace_id: WorkspaceId, body: InviteCreate, principal: CurrentPrincipal, workspaces: WorkspacesDep
) -> InvitationCreated:
    """Invite someone by email (admins). The token in the answer is shown once; it expires and works once."""
    return await workspaces.invitations.invite(principal.user_id, workspace_id, body.email, body.role)


@router.get("/{workspace_id}/invitations")
async def list_invitations(
    workspace_id: WorkspaceId, principal: CurrentPrincipal, workspaces: WorkspacesDep
) -> InvitationList:
    return InvitationList(data=await workspaces.invitations.list(principal.user_id, workspace_id))


@router.delete("/{workspace_id}/invitations/{invite_id}")
async def revoke_invitation(
    workspace_id: WorkspaceId, invite_id: InvitationId, principal: CurrentPrincipal, workspaces: WorkspacesDep
) -> Invitation:
    return await workspaces.invitations.revoke(principal.user_id, workspace_id, invite_id)


# What main.py includes: the workspace routes and the plan catalog.
routes = APIRouter()
routes.include_router(router)
routes.include_router(plans_router)
