"""The money of a process, wired once: the ledger and its one writer, who pays for a call, the caps, the
usage records, and buying credits. Every feature of the process shares these objects (one sharded-wallet
window per instance, one budget counter, one set of per-wallet transaction turns)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.bootstrap.clients import Clients
from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.limits.budgets.service import Budgets
from shared.limits.ratelimit.service import RateLimits
from shared.plans.limits import Plans, plans_for
from shared.plans.offers import plan_offers
from shared.purchases.disputes import Disputes
from shared.purchases.funding import Funding
from shared.purchases.orders import Orders
from shared.purchases.payments import Purchases
from shared.purchases.price_list import BillingConfig, load_billing_config
from shared.purchases.repository import BillingRepository
from shared.purchases.service import Billing
from shared.purchases.sslcommerz import SslCommerz
from shared.purchases.stripe_events import StripeEvents
from shared.purchases.webhook_events import EventStore
from shared.purchases.webhooks import PaymentWebhooks
from shared.spending.leases import LeaseBook
from shared.spending.members import WorkspaceSpending
from shared.spending.payer import Payer
from shared.telemetry import call_metrics
from shared.telemetry.llm_traces import LangfuseSink, build_sink
from shared.usage.recorder import UsageRecorder
from shared.workspaces.service import WorkspaceService


@dataclass
class Money:
    ledger: Ledger
    wallets: ShardedWallets
    members: WorkspaceSpending
    payer: Payer
    usage: UsageRecorder
    plans: Plans
    budgets: Budgets
    rate_limits: RateLimits
    workspaces: WorkspaceService
    billing_records: BillingRepository  # customers and subscriptions, read by workspaces and buying
    leases: LeaseBook  # chat calls' credit leases: started by the API's lifespan, idle elsewhere
    llm_traces: LangfuseSink | None = None  # every usage record as a Langfuse trace, when configured

    async def close(self) -> None:
        await self.leases.close()  # every lease flushed and settled, the rest given back
        await self.budgets.flush()
        if self.llm_traces is not None:
            await self.llm_traces.flush()


def build_money(clients: Clients) -> Money:
    settings, db = clients.settings, clients.db
    ledger = Ledger(db, settings)
    wallets = ShardedWallets(ledger)
    members = WorkspaceSpending(db, wallets)
    plans = plans_for(settings)
    billing_records = BillingRepository(db)
    sink = build_sink(settings)
    observers = [call_metrics.observe] + ([sink.record] if sink is not None else [])
    payer = Payer(ledger, members)
    usage = UsageRecorder(db, settings.usage_retention_days, *observers)
    return Money(
        ledger=ledger,
        wallets=wallets,
        members=members,
        payer=payer,
        usage=usage,
        leases=LeaseBook(payer, usage, settings),
        plans=plans,
        budgets=Budgets(clients.redis, plans, clients.publisher, settings),
        rate_limits=RateLimits(clients.redis, plans),
        workspaces=WorkspaceService(db, settings, plan_offers(settings), billing_records),
        billing_records=billing_records,
        llm_traces=sink,
    )


@dataclass
class Buying:
    """Buying credits: checkout for the API, webhook handling for the payments function, and the orders
    the reconciler re-checks (None when SSLCommerz is not configured here)."""

    billing: Billing
    webhooks: PaymentWebhooks
    orders: Orders
    pending_orders: Orders | None


def build_buying(clients: Clients, money: Money) -> Buying:
    settings, db, secrets = clients.settings, clients.db, clients.secrets
    config: BillingConfig = load_billing_config(settings.billing_config_path)
    repo = money.billing_records
    purchases = Purchases(db, money.ledger)
    funding = Funding(purchases, money.wallets, money.workspaces.shard_count)
    password = secrets.get("SSLCOMMERZ_STORE_PASSWORD")
    sslcommerz = SslCommerz(
        settings.sslcommerz_api_base,
        settings.sslcommerz_store_id or "",
        password or "",
        settings.sslcommerz_timeout_s,
    )
    orders = Orders(db, sslcommerz, funding)
    stripe = StripeEvents(repo, config, funding, Disputes(purchases, money.ledger))
    events = EventStore(db, settings.payment_event_lease_s, settings.payment_event_retention_days)
    return Buying(
        billing=Billing(settings, secrets, config, repo, orders, sslcommerz, money.workspaces, money.ledger),
        webhooks=PaymentWebhooks(settings, secrets, events, stripe, orders),
        orders=orders,
        pending_orders=orders if settings.sslcommerz_store_id and password else None,
    )
