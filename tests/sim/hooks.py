"""The payments function's service layer as the simulator runs it: the real PaymentWebhooks (signatures,
the event store, the Stripe event handler, SSLCommerz orders, funding of workspaces) on the faulty
Firestore client, with a price list of small packages (so purchases and spending meet) and an in-process
SSLCommerz validation API whose answers the simulator scripts (a fake of the provider, as in
tests/fakes/sslcommerz.py)."""

from __future__ import annotations

import random
import secrets
from decimal import Decimal
from typing import Any

from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.purchases.disputes import Disputes
from shared.purchases.errors import ProviderUnavailable
from shared.purchases.funding import Funding
from shared.purchases.orders import Orders
from shared.purchases.payments import Purchases
from shared.purchases.price_list import BillingConfig, SslPackage, StripePackage, StripePlan
from shared.purchases.repository import BillingRepository
from shared.purchases.sslcommerz import SslCommerz
from shared.purchases.stripe_events import StripeEvents
from shared.purchases.webhook_events import EventStore
from shared.purchases.webhooks import PaymentWebhooks
from shared.settings import Settings
from tests.sim.faults import FaultPlan

LEASE_S = 60  # the payment event lease (settings.payment_event_lease_s)
STORE_ID = "simstore"

CONFIG = BillingConfig(
    stripe_packages={
        "sim-small": StripePackage("sim-small", "price_sim_small", 700, "usd", 500),
        "sim-large": StripePackage("sim-large", "price_sim_large", 2_500, "usd", 2_000),
    },
    stripe_plans={"sim-plan": StripePlan("sim-plan", "price_sim_plan", 1_000, 1_000, "usd")},
    ssl_packages={"sim-bdt": SslPackage("sim-bdt", 900, "BDT", Decimal("500.00"))},
)


class Keys:
    """The run's webhook secret and store password."""

    def __init__(self) -> None:
        self.webhook = "whsec_" + secrets.token_hex(16)
        self.store_password = secrets.token_hex(10)

    def get(self, name: str) -> str | None:
        return {"STRIPE_WEBHOOK_SECRETS": self.webhook, "SSLCOMMERZ_STORE_PASSWORD": self.store_password}.get(
            name
        )


class Gateway(SslCommerz):
    """SSLCommerz's validation API, in process: scripted answers by val_id, down now and then (by the
    seed: the val_id's how-many-th validation in the operation)."""

    def __init__(self, plan: FaultPlan, answers: dict[str, dict[str, Any]]) -> None:
        super().__init__("http://sslcommerz.sim", STORE_ID, "", 1.0)
        self._plan = plan
        self.answers = answers
        self.calls: dict[str, int] = {}

    async def validate(self, val_id: str) -> dict[str, Any]:
        self.calls[val_id] = self.calls.get(val_id, 0) + 1
        if self._plan.provider_down("validate"):
            raise ProviderUnavailable("simulated: SSLCommerz did not answer in time")
        return self.answers.get(val_id, {"status": "INVALID_TRANSACTION"})


def build(
    db: Any,
    settings: Settings,
    ledger: Ledger,
    purchases: Purchases,
    wallets: ShardedWallets,
    keys: Keys,
    gateway: Gateway,
    shards: int,
) -> tuple[PaymentWebhooks, Orders]:
    """One instance of the payments function, on the instance's own ledger and sharded wallets."""

    async def shard_count(workspace_id: str) -> int:
        return shards

    funding = Funding(purchases, wallets, shard_count)
    orders = Orders(db, gateway, funding)
    stripe = StripeEvents(BillingRepository(db), CONFIG, funding, Disputes(purchases, ledger))
    events = EventStore(db, LEASE_S)
    return PaymentWebhooks(settings, keys, events, stripe, orders), orders


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]
