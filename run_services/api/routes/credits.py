"""The caller's credit balance and ledger."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from run_services.api.deps import CurrentPrincipal, ServicesDep
from shared.ledger.ledger import MAX_PAGE
from shared.ledger.schemas import Balance, Entry, ExpiringCredits

router = APIRouter(prefix="/v1/credits", tags=["credits"])


class CreditBalance(Balance):
    email_verified: bool
    notice: str | None = Field(
        None,
        description="Why the balance may be empty, e.g. the email is not verified yet (no welcome credits).",
    )


class ExpiringList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ExpiringCredits]


class EntryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Entry]
    next_cursor: str | None


@router.get("")
async def get_balance(principal: CurrentPrincipal, services: ServicesDep) -> CreditBalance:
    """Credits you can spend now, and credits held by requests still running; while your email is not
    verified, `notice` says that the welcome credits arrive once it is."""
    balance = await services.ledger.balance(principal.wallet_id)
    account = await services.auth.signup.account(principal.user_id)
    return CreditBalance(**balance.model_dump(), email_verified=account.email_verified, notice=account.notice)


@router.get("/expiring")
async def get_expiring(principal: CurrentPrincipal, services: ServicesDep) -> ExpiringList:
    """Plan credits that expire, soonest first (spent before anything else); the rest never expires."""
    return ExpiringList(data=await services.ledger.expiring(principal.wallet_id))


@router.get("/ledger")
async def list_entries(
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> EntryList:
    """Ledger entries, newest first. Pass `next_cursor` back as `cursor` for the next page."""
    page = await services.ledger.entries(principal.wallet_id, limit=limit, cursor=cursor)
    return EntryList(data=page.data, next_cursor=page.next_cursor)
