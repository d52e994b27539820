"""The price list: top-up packages and subscription plans per provider (packages.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.errors import BadRequest


@dataclass(frozen=True)
class StripePackage:
    id: str
    price: str
    credits: int
    currency: str
    amount_minor: int


@dataclass(frozen=True)
class StripePlan:
    """A plan's Stripe price: `amount_minor` a seat a month in `currency`, for `monthly_credits` a seat."""

    id: str
    price: str
    monthly_credits: int
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class SslPackage:
    id: str
    credits: int
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class BillingConfig:
    stripe_packages: dict[str, StripePackage]
    stripe_plans: dict[str, StripePlan]
    ssl_packages: dict[str, SslPackage]

    def stripe_package(self, package_id: str) -> StripePackage:
        if package_id not in self.stripe_packages:
            raise BadRequest(
                f"No Stripe package {package_id!r}; choose one of {sorted(self.stripe_packages)}.",
                code="unknown_package",
            )
        return self.stripe_packages[package_id]

    def stripe_plan(self, plan_id: str) -> StripePlan:
        if plan_id not in self.stripe_plans:
            raise BadRequest(
                f"No plan {plan_id!r}; choose one of {sorted(self.stripe_plans)}.", code="unknown_plan"
            )
        return self.stripe_plans[plan_id]

    def plan_for_price(self, price_id: str | None) -> StripePlan | None:
        return next((p for p in self.stripe_plans.values() if p.price == price_id), None)

    def ssl_package(self, package_id: str) -> SslPackage:
        if package_id not in self.ssl_packages:
            raise BadRequest(
                f"No SSLCommerz package {package_id!r}; choose one of {sorted(self.ssl_packages)}.",
                code="unknown_package",
            )
        return self.ssl_packages[package_id]


# Stripe currencies without minor units (amount_minor is the whole amount in these).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd"})


def stripe_amount(amount_minor: int, currency: str) -> str:
    """Minor units as an exact decimal string: 500 usd -> "5.00", 500 jpy -> "500"."""
    if currency.lower() in ZERO_DECIMAL:
        return str(amount_minor)
    return f"{Decimal(amount_minor) / 100:.2f}"


def listing(config: BillingConfig, ready: dict[str, bool]) -> list[dict[str, Any]]:
    """What can be bought, for GET /v1/billing/packages: each top-up package and plan with its provider,
    credits (a plan's: a seat a month), currency and amount as a decimal string, and whether its
    provider is configured here (`available`; checkout answers 503 billing_not_configured otherwise)."""
    out: list[dict[str, Any]] = []
    for p in config.stripe_packages.values():
        amount = stripe_amount(p.amount_minor, p.currency)
        out.append(_item("stripe", "package", p.id, p.credits, p.currency, amount, ready))
    for plan in config.stripe_plans.values():
        amount = stripe_amount(plan.amount_minor, plan.currency)
        item = _item("stripe", "plan", plan.id, plan.monthly_credits, plan.currency, amount, ready)
        out.append({**item, "interval": "month", "per": "seat"})
    for s in config.ssl_packages.values():
        out.append(_item("sslcommerz", "package", s.id, s.credits, s.currency, f"{s.amount:.2f}", ready))
    return out


def _item(
    provider: str, kind: str, id_: str, credits: int, currency: str, amount: str, ready: dict[str, bool]
) -> dict[str, Any]:
    return {
        "provider": provider,
        "kind": kind,
        "id": id_,
        "credits": credits,
        "currency": currency.upper(),
        "amount": amount,
        "available": ready.get(provider, False),
    }


@lru_cache(maxsize=4)
def load_billing_config(path: Path) -> BillingConfig:
    data = tomllib.loads(path.read_text())
    stripe = data.get("stripe", {})
    ssl = data.get("sslcommerz", {})
    return BillingConfig(
        stripe_packages={
            k: StripePackage(k, v["price"], int(v["credits"]), v["currency"].lower(), int(v["amount_minor"]))
            for k, v in stripe.get("packages", {}).items()
        },
        stripe_plans={
            k: StripePlan(
                k, v["price"], int(v["monthly_credits"]), int(v["amount_minor"]), v["currency"].lower()
            )
            for k, v in stripe.get("plans", {}).items()
        },
        ssl_packages={
            k: SslPackage(k, int(v["credits"]), v["currency"].upper(), Decimal(str(v["amount"])))
            for k, v in ssl.get("packages", {}).items()
        },
    )
