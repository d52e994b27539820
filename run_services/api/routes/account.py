"""`DELETE /v1/me`: delete your account and its content (shared/account/deletion.py says what goes and
what the law keeps). A signed-in session only; confirm with `{"confirm": "delete my account"}` (or
`?confirm=delete my account`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel

from run_services.api.deps import CurrentPrincipal, ServicesDep
from shared.account.deletion import AccountDeletion

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


@router.delete("")
async def delete_me(
    principal: CurrentPrincipal,
    services: ServicesDep,
    body: Annotated[DeleteAccount | None, Body()] = None,
    confirm: Annotated[str | None, Query(max_length=64)] = None,
) -> AccountDeleted:
    """Delete the account: threads, jobs and their files, API keys and sessions; leave every workspace.
    The ledger, payments, usage records and the audit trail stay, without the email address."""
    await services.rate_limits.check_request(principal)
    deletion = AccountDeletion(
        services.db, services.jobs.store, services.workspaces.service, services.jobs.service
    )
    done = await deletion.delete(principal, (body.confirm if body else None) or confirm)
    services.auth.forget(principal.user_id)
    return AccountDeleted(**done.__dict__)
