"""Your data, your call: `POST /v1/me/export` starts an export of everything the account holds (a free job:
shared/account/export_job.py) and `GET /v1/me/export` shows the latest one, with a signed URL to its zip
once done; `DELETE /v1/me` deletes the account and its content (shared/account/deletion.py says what goes
and what the law keeps): a signed-in session only, confirmed with `{"confirm": "delete my account"}` (or
`?confirm=delete my account`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel

from run_services.api.deps import CurrentPrincipal, ServicesDep
from shared.account.deletion import AccountDeletion
from shared.account.export_job import KIND
from shared.audit import trail as audit
from shared.auth.schemas import Principal
from shared.bootstrap import Services
from shared.errors import NotFound
from shared.jobs.schemas import TERMINAL, Job, JobCreate, JobView
from shared.jobs.service import MAX_LIST

router = APIRouter(prefix="/v1/me", tags=["auth"])


class DeleteAccount(BaseModel):
    confirm: str | None = None


class AccountDeleted(BaseModel):
    deleted: bool = True
    threads: int
    jobs: int
    objects: int
    api_keys: int
    sessions: int
    workspaces_left: int
    files: int
    templates: int


@router.delete("")
async def delete_me(
    principal: CurrentPrincipal,
    services: ServicesDep,
    body: Annotated[DeleteAccount | None, Body()] = None,
    confirm: Annotated[str | None, Query(max_length=64)] = None,
) -> AccountDeleted:
    """Delete the account: threads, jobs and their files, uploaded files, API keys and sessions; leave
    every workspace. The ledger, payments, usage records and the audit trail stay, without the email
    address."""
    await services.rate_limits.check_request(principal)
    deletion = AccountDeletion(
        services.db, services.jobs.store, services.workspaces.service, services.jobs.service
    )
    done = await deletion.delete(principal, (body.confirm if body else None) or confirm)
    services.auth.forget(principal.user_id)
    return AccountDeleted(**done.__dict__)


async def latest_export(services: Services, principal: Principal) -> Job | None:
    jobs = await services.jobs.repo.list_for_user(principal.user_id, MAX_LIST)
    return next((job for job in jobs if job.type == KIND), None)


@router.post("/export", status_code=202)
async def start_export(principal: CurrentPrincipal, services: ServicesDep, response: Response) -> JobView:
    """Export everything the account holds as a zip of JSON files (free). While one is running, this
    returns it instead of starting another; follow it at `/v1/jobs/{id}` or `/v1/jobs/{id}/events`."""
    await services.rate_limits.check_request(principal)
    running = await latest_export(services, principal)
    if running is None or running.state in TERMINAL:
        running = await services.jobs.service.create(principal, JobCreate(type=KIND, input={}))
        item = audit.entry("account.export", principal.user_id, account=principal.user_id, target=running.id)
        await audit.AuditTrail(services.db).write(item)
    response.headers["Location"] = f"/v1/jobs/{running.id}"
    return await services.jobs.service.view(running)


@router.get("/export")
async def get_export(principal: CurrentPrincipal, services: ServicesDep) -> JobView:
    """The latest export: its state and, once it succeeded, a signed URL to the zip (fresh on each call)."""
    job = await latest_export(services, principal)
    if job is None:
        raise NotFound("No export yet: start one with POST /v1/me/export.", code="no_export")
    return await services.jobs.service.view(job)
