"""Buying credits: Checkout with Stripe or SSLCommerz, and the Stripe customer portal, for your own wallet
or, as a workspace owner or admin, for a workspace's (`workspace_id`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from run_services.api.deps import CurrentPrincipal, ServicesDep
from shared.purchases.price_list import listing
from shared.purchases.service import Billing

router = APIRouter(prefix="/v1/billing", tags=["billing"])

WorkspaceQuery = Annotated[
    str | None,
    Query(max_length=100, description="A workspace you are an owner or admin of, instead of yourself."),
]


class CheckoutRequest(BaseModel):
    provider: Literal["stripe", "sslcommerz"] = "stripe"
    package: str | None = Field(
        None, max_length=100, description="A top-up package from the billing catalog."
    )
    plan: str | None = Field(None, max_length=100, description="A plan to subscribe to (Stripe only).")
    workspace_id: str | None = Field(
        None, max_length=100, description="Pay for this workspace (its owners and admins only)."
    )
    seats: int | None = Field(
        None,
        description="A workspace plan's seats, 1 to the plan's max_seats (default: its included seats).",
    )


class CheckoutOut(BaseModel):
    provider: str
    url: str


class PortalOut(BaseModel):
    url: str


class AccountOut(BaseModel):
    debt: int = Field(description="Credits owed after a refund or dispute; spending waits until it is paid.")
    clawed_back: int
    stripe_customer: bool


def get_billing(services: ServicesDep) -> Billing:
    return services.billing


BillingDep = Annotated[Billing, Depends(get_billing)]


class PackageList(BaseModel):
    object: Literal["list"] = "list"
    data: list[dict[str, Any]]


@router.get("/packages")
async def packages(principal: CurrentPrincipal, services: ServicesDep, billing: BillingDep) -> PackageList:
    """What can be bought: top-up packages and plans per provider (credits, currency, amount), each
    saying whether its provider is configured here. Buy one with POST /v1/billing/checkout."""
    await services.rate_limits.check_request(principal)
    return PackageList(data=listing(billing.config, billing.providers_ready()))


@router.post("/checkout")
async def checkout(body: CheckoutRequest, principal: CurrentPrincipal, billing: BillingDep) -> CheckoutOut:
    """Start paying: send the buyer to the returned URL. Credits arrive when the provider confirms."""
    buyer = await billing.buyer(principal.user_id, principal.wallet_id, body.workspace_id)
    url = await billing.checkout(buyer, body.provider, body.package, body.plan, body.seats)
    return CheckoutOut(provider=body.provider, url=url)


@router.post("/portal")
async def portal(
    principal: CurrentPrincipal, billing: BillingDep, workspace_id: WorkspaceQuery = None
) -> PortalOut:
    """A Stripe customer-portal link (invoices, payment methods, subscription and its seats)."""
    buyer = await billing.buyer(principal.user_id, principal.wallet_id, workspace_id)
    return PortalOut(url=await billing.portal(buyer.wallet_id))


@router.get("")
async def account(
    principal: CurrentPrincipal, billing: BillingDep, workspace_id: WorkspaceQuery = None
) -> AccountOut:
    """Your (or a workspace's) billing state: any debt left by refunds or disputes, and whether the
    portal is available."""
    buyer = await billing.buyer(principal.user_id, principal.wallet_id, workspace_id)
    return AccountOut.model_validate(await billing.account(buyer.wallet_id))
