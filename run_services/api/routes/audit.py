"""The audit trail, read-only: `GET /v1/workspaces/{id}/audit` for the workspace's owners and admins (404
for anyone else who is not a member, 403 for a member), `GET /v1/me/audit` for your own account. Newest
first, paged by `next_cursor`, filtered by action, actor and time. Nothing edits or deletes an entry."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from run_services.api.deps import CurrentPrincipal, ServicesDep, WorkspaceId, WorkspacesDep
from shared.audit.trail import MAX_PAGE, AuditEntry, AuditPage, AuditQuery, AuditTrail

router = APIRouter(tags=["audit"])


class AuditEntryOut(BaseModel):
    id: str
    action: str
    actor: str
    at: dt.datetime
    account: str | None
    workspace_id: str | None
    target: str | None
    ip: str | None
    request_id: str | None
    details: dict[str, Any]

    @staticmethod
    def of(item: AuditEntry) -> AuditEntryOut:
        return AuditEntryOut(**item.to_doc())


class AuditList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditEntryOut]
    next_cursor: str | None

    @staticmethod
    def of(page: AuditPage) -> AuditList:
        return AuditList(data=[AuditEntryOut.of(x) for x in page.data], next_cursor=page.next_cursor)


def audit_query(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. api_key.create")] = None,
    actor: Annotated[str | None, Query(max_length=128, description="a user id or system:<provider>")] = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[dt.datetime | None, Query(description="ISO 8601, exclusive")] = None,
) -> AuditQuery:
    return AuditQuery(limit, cursor, action, actor, _utc(since), _utc(until))


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=dt.UTC)


Filters = Annotated[AuditQuery, Depends(audit_query)]


@router.get("/v1/workspaces/{workspace_id}/audit")
async def workspace_audit(
    workspace_id: WorkspaceId,
    query: Filters,
    principal: CurrentPrincipal,
    services: ServicesDep,
    workspaces: WorkspacesDep,
) -> AuditList:
    """The workspace's entries: members, roles, limits, invitations, settings, payments, refunds, disputes."""
    await workspaces.service.membership(principal.user_id, workspace_id, "admin")
    await services.rate_limits.check_request(principal)
    return AuditList.of(await AuditTrail(services.db).page(query, workspace_id=workspace_id))


@router.get("/v1/me/audit")
async def my_audit(query: Filters, principal: CurrentPrincipal, services: ServicesDep) -> AuditList:
    """Your account's entries: sign-ins, lockouts, API keys, your payments, workspaces you joined."""
    await services.rate_limits.check_request(principal)
    return AuditList.of(await AuditTrail(services.db).page(query, account=principal.user_id))
