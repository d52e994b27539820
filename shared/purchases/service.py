"""Billing for the API: Checkout (Stripe or SSLCommerz), the Stripe portal, confirming SSLCommerz orders.

A buyer pays for their own wallet, or, as an owner or admin, for a workspace's (`ws-{id}`): a workspace
plan is bought per seat (quantity = seats, within the plan's max_seats), and its credits land on the
workspace's sharded wallet (shared/purchases/funding.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.adapters.secrets import SecretSource
from shared.errors import AppError, BadRequest
from shared.ledger.ledger import Ledger
from shared.ledger.wallet_ids import ledger_wallet, workspace_wallet_base
from shared.purchases.errors import AlreadySubscribed, NoBillingAccount
from shared.purchases.orders import Orders
from shared.purchases.price_list import BillingConfig
from shared.purchases.repository import BillingRepository
from shared.purchases.sslcommerz import SslCommerz
from shared.purchases.stripe_api import StripeApi
from shared.settings import Settings
from shared.workspaces.service import WorkspaceService

Provider = Literal["stripe", "sslcommerz"]


class BillingNotConfigured(AppError):
    status = 503
    code = "billing_not_configured"


@dataclass(frozen=True)
class Buyer:
    user_id: str
    wallet_id: str  # the wallet paid for: the user's own, or a workspace's `ws-{id}`
    email: str | None = None
    workspace_id: str | None = None


class Billing:
    def __init__(
        self,
        settings: Settings,
        secrets: SecretSource,
        config: BillingConfig,
        repo: BillingRepository,
        orders: Orders,
        sslcommerz: SslCommerz,
        workspaces: WorkspaceService,
        ledger: Ledger,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self.config = config
        self._repo = repo
        self.orders = orders
        self._ssl = sslcommerz
        self._workspaces = workspaces
        self._ledger = ledger

    async def buyer(self, user_id: str, own_wallet: str, workspace_id: str | None) -> Buyer:
        """Who pays for which wallet: the caller's own, or a workspace's when they are its owner or admin
        (404 workspace_not_found for a non-member, 403 role_required for a member)."""
        if workspace_id is None:
            return Buyer(user_id, own_wallet)
        await self._workspaces.membership(user_id, workspace_id, "admin")
        return Buyer(user_id, workspace_wallet_base(workspace_id), workspace_id=workspace_id)

    def providers_ready(self) -> dict[str, bool]:
        """Which payment providers are configured here (their keys set)."""
        return {
            "stripe": bool(self._secrets.get("STRIPE_SECRET_KEY")),
            "sslcommerz": bool(
                self._settings.sslcommerz_store_id and self._secrets.get("SSLCOMMERZ_STORE_PASSWORD")
            ),
        }

    def _stripe(self) -> StripeApi:
        key = self._secrets.get("STRIPE_SECRET_KEY")
        if not key:
            raise BillingNotConfigured("Stripe is not configured here: set STRIPE_SECRET_KEY.")
        return StripeApi(key, self._settings.stripe_api_base)

    async def checkout(
        self,
        buyer: Buyer,
        provider: Provider,
        package: str | None,
        plan: str | None,
        seats: int | None = None,
    ) -> str:
        """The URL the buyer is sent to, to pay for a credit package (or, with Stripe, a plan).

        Everything is checked before anything is created: a bad request changes nothing."""
        if seats is not None and not plan:
            raise BadRequest("seats go with a plan; a credit package has none.", code="invalid_seats")
        if provider == "sslcommerz":
            if plan:
                raise BadRequest("Plans are sold with Stripe only.", code="plan_needs_stripe")
            return await self._sslcommerz_checkout(buyer, package or "")
        return_url = self._settings.billing_return_url
        meta = {"wallet_id": buyer.wallet_id, "user_id": buyer.user_id}
        if buyer.workspace_id:
            meta["workspace_id"] = buyer.workspace_id
        params: dict[str, object]
        if plan:
            chosen = self.config.stripe_plan(plan)
            quantity = self._seats(chosen.id, seats, buyer.workspace_id)
            if await self._repo.live_subscription(ledger_wallet(buyer.wallet_id)):
                raise AlreadySubscribed()
            plan_meta = {**meta, "plan": chosen.id, "seats": str(quantity)}
            params = {
                "mode": "subscription",
                "line_items": [{"price": chosen.price, "quantity": quantity}],
                "metadata": plan_meta,
                "subscription_data": {"metadata": plan_meta},
            }
        else:
            top_up = self.config.stripe_package(package or "")
            params = {
                "mode": "payment",
                "line_items": [{"price": top_up.price, "quantity": 1}],
                "metadata": {**meta, "package": top_up.id},
                "payment_intent_data": {"metadata": {**meta, "package": top_up.id}},
                "customer_creation": "always",
            }
        customer = await self._repo.customer(buyer.wallet_id, "stripe")
        if customer:
            params["customer"] = customer
            params.pop("customer_creation", None)
        elif buyer.email:
            params["customer_email"] = buyer.email
        params |= {
            "client_reference_id": buyer.wallet_id,
            "success_url": f"{return_url}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{return_url}?checkout=cancel",
        }
        return await self._stripe().checkout_session(params)

    def _seats(self, plan: str, seats: int | None, workspace_id: str | None) -> int:
        """The subscription's quantity: 1 for a user's own plan; for a workspace, `seats` (by default the
        plan's included seats) between 1 and the plan's max_seats."""
        if workspace_id is None:
            if seats not in (None, 1):
                raise BadRequest("Seats are bought for a workspace: send workspace_id.", code="invalid_seats")
            return 1
        offer = self._workspaces.offers.get(plan)
        if offer.name != plan:
            raise BadRequest(f"The plan {plan!r} is not offered to workspaces.", code="unknown_plan")
        wanted = offer.included_seats if seats is None else seats
        if not 1 <= wanted <= offer.max_seats:
            raise BadRequest(
                f"The {plan} plan is sold with 1 to {offer.max_seats} seats; you asked for {wanted}.",
                code="invalid_seats",
            )
        return wanted

    async def account(self, wallet_id: str) -> dict[str, int | bool]:
        """What the wallet owes after refunds and disputes, and whether it has a Stripe customer (for a
        workspace: the debt on its shard 0, where clawbacks land)."""
        wallet = await self._ledger.state(ledger_wallet(wallet_id))
        customer = await self._repo.customer(wallet_id, "stripe")
        return {
            "debt": wallet.debt,
            "clawed_back": wallet.clawed_back,
            "stripe_customer": customer is not None,
        }

    async def portal(self, wallet_id: str) -> str:
        customer = await self._repo.customer(wallet_id, "stripe")
        if not customer:
            raise NoBillingAccount()
        return await self._stripe().portal_session(customer, self._settings.billing_return_url)

    async def _sslcommerz_checkout(self, buyer: Buyer, package_id: str) -> str:
        if not self._settings.sslcommerz_store_id or not self._secrets.get("SSLCOMMERZ_STORE_PASSWORD"):
            raise BillingNotConfigured(
                "SSLCommerz is not configured here: set SSLCOMMERZ_STORE_ID and SSLCOMMERZ_STORE_PASSWORD."
            )
        package = self.config.ssl_package(package_id)
        tran_id = await self.orders.create(buyer.user_id, buyer.wallet_id, package, buyer.workspace_id)
        base = self._settings.payments_url.rstrip("/")
        urls = {
            "success_url": f"{base}/sslcommerz/success",
            "fail_url": f"{base}/sslcommerz/fail",
            "cancel_url": f"{base}/sslcommerz/cancel",
            "ipn_url": f"{base}/sslcommerz/ipn",
        }
        customer = {
            "cus_name": buyer.email or buyer.user_id,
            "cus_email": buyer.email or "unknown@example.com",
            "cus_phone": "N/A",
            "cus_add1": "N/A",
            "cus_city": "N/A",
            "cus_country": "Bangladesh",
        }
        return await self._ssl.start_session(tran_id, package.amount, package.currency, urls, customer)
