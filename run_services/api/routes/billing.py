"""Buying credits: Checkout with Stripe or SSLCommerz, and the Stripe customer portal."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from run_services.api.deps import CurrentPrincipal, ServicesDep
from shared.billing.service import Billing, Buyer

router = APIRouter(prefix="/v1/billing", tags=["billing"])


class CheckoutRequest(BaseModel):
    provider: Literal["stripe", "sslcommerz"] = "stripe"
    package: str | None = Field(
        None, max_length=100, description="A top-up package from the billing catalog."
    )
    plan: str | None = Field(None, max_length=100, description="A plan to subscribe to (Stripe only).")


class CheckoutOut(BaseModel):
    provider: str
    url: str


class PortalOut(BaseModel):
    url: str


class AccountOut(BaseModel):
    debt: int = Field(description="Credits owed after a refund or dispute; spending waits until it is paid.")
    clawed_back: int
    stripe_customer: bool


def get_billing(request: Request, services: ServicesDep) -> Billing:
    """Built on first use from the instance's services."""
    billing: Billing | None = getattr(request.app.state, "billing", None)
    if billing is None:
        billing = Billing(services.db, services.settings, services.secrets)
        request.app.state.billing = billing
    return billing


@router.post("/checkout")
async def checkout(
    body: CheckoutRequest, principal: CurrentPrincipal, services: ServicesDep, request: Request
) -> CheckoutOut:
    """Start paying: send the buyer to the returned URL. Credits arrive when the provider confirms."""
    billing = get_billing(request, services)
    buyer = Buyer(principal.user_id, principal.wallet_id)
    url = await billing.checkout(buyer, body.provider, body.package, body.plan)
    return CheckoutOut(provider=body.provider, url=url)


@router.post("/portal")
async def portal(principal: CurrentPrincipal, services: ServicesDep, request: Request) -> PortalOut:
    """A Stripe customer-portal link (invoices, payment methods, subscription)."""
    return PortalOut(url=await get_billing(request, services).portal(principal.wallet_id))


@router.get("")
async def account(principal: CurrentPrincipal, services: ServicesDep, request: Request) -> AccountOut:
    """Your billing state: any debt left by refunds or disputes, and whether the portal is available."""
    return AccountOut.model_validate(await get_billing(request, services).account(principal.wallet_id))
