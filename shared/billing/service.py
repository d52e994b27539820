"""Billing for the API: Checkout (Stripe or SSLCommerz), the Stripe portal, confirming SSLCommerz orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from google.cloud import firestore

from shared.billing.config import BillingConfig, load_billing_config
from shared.billing.errors import NoBillingAccount
from shared.billing.orders import Orders
from shared.billing.repository import BillingRepository
from shared.billing.sslcommerz import SslCommerz
from shared.billing.stripe_api import StripeApi
from shared.credits.records import WALLETS, WalletState
from shared.errors import AppError
from shared.secrets import SecretSource
from shared.settings import Settings

Provider = Literal["stripe", "sslcommerz"]


class BillingNotConfigured(AppError):
    status = 503
    code = "billing_not_configured"


@dataclass(frozen=True)
class Buyer:
    user_id: str
    wallet_id: str
    email: str | None = None


class Billing:
    def __init__(self, db: firestore.AsyncClient, settings: Settings, secrets: SecretSource) -> None:
        self._db = db
        self._settings = settings
        self._secrets = secrets
        self.config: BillingConfig = load_billing_config(settings.billing_config_path)
        self._repo = BillingRepository(db)
        self._ssl = self._sslcommerz()
        self.orders = Orders(db, self._ssl)

    def _stripe(self) -> StripeApi:
        key = self._secrets.get("STRIPE_SECRET_KEY")
        if not key:
            raise BillingNotConfigured("Stripe is not configured here: set STRIPE_SECRET_KEY.")
        return StripeApi(key, self._settings.stripe_api_base)

    def _sslcommerz(self) -> SslCommerz:
        s = self._settings
        password = self._secrets.get("SSLCOMMERZ_STORE_PASSWORD") or ""
        return SslCommerz(
            s.sslcommerz_api_base, s.sslcommerz_store_id or "", password, s.sslcommerz_timeout_s
        )

    async def checkout(self, buyer: Buyer, provider: Provider, package: str | None, plan: str | None) -> str:
        """The URL the buyer is sent to, to pay for a credit package (or, with Stripe, a plan)."""
        if provider == "sslcommerz":
            return await self._sslcommerz_checkout(buyer, package or "")
        return_url = self._settings.billing_return_url
        meta = {"wallet_id": buyer.wallet_id, "user_id": buyer.user_id}
        params: dict[str, object]
        if plan:
            chosen = self.config.stripe_plan(plan)
            params = {
                "mode": "subscription",
                "line_items": [{"price": chosen.price, "quantity": 1}],
                "metadata": {**meta, "plan": chosen.id},
                "subscription_data": {"metadata": {**meta, "plan": chosen.id}},
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

    async def account(self, wallet_id: str) -> dict[str, int | bool]:
        """What the wallet owes after refunds and disputes, and whether it has a Stripe customer."""
        snap = await self._db.collection(WALLETS).document(wallet_id).get()
        wallet = WalletState.from_doc(snap.to_dict())
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
        tran_id = await self.orders.create(buyer.user_id, buyer.wallet_id, package)
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
