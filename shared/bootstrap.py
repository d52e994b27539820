"""Wire the real adapters once per instance: the same services run in Cloud Run, functions and tests."""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import firestore
from redis.asyncio import Redis

from shared.adapters.firestore import async_client
from shared.adapters.pubsub import PubSubPublisher
from shared.adapters.secrets import SecretSource, secret_source
from shared.auth.service import AuthService
from shared.cache.layered import build_cache
from shared.cache.types import Embedder
from shared.catalog.catalog import Catalog
from shared.chat.service import ChatService
from shared.chat.threads import ThreadService
from shared.gateway.embeddings import LitellmEmbedder
from shared.gateway.gateway import Gateway
from shared.ledger.ledger import Ledger
from shared.limits.budgets.service import Budgets
from shared.limits.ratelimit.service import RateLimits
from shared.plans.limits import plans_for
from shared.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: firestore.AsyncClient
    redis: Redis
    secrets: SecretSource
    ledger: Ledger
    auth: AuthService
    catalog: Catalog
    gateway: Gateway
    chat: ChatService
    threads: ThreadService
    events: PubSubPublisher
    rate_limits: RateLimits
    budgets: Budgets


def build_services(settings: Settings) -> Services:
    db = async_client(settings)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    secrets = secret_source(settings)
    ledger = Ledger(db, settings)
    auth = AuthService(db, redis, ledger, settings, secrets)
    catalog = Catalog.load(settings, secrets)
    gateway = Gateway(catalog, settings, redis)
    cache = build_cache(redis, settings, _embedder(settings, catalog))
    plans = plans_for(settings)
    events = PubSubPublisher.from_settings(settings)
    rate_limits = RateLimits(redis, plans)
    budgets = Budgets(redis, plans, events, settings)
    chat = ChatService(
        db, ledger, catalog, gateway, settings, cache=cache, rate_limits=rate_limits, budgets=budgets
    )
    threads = ThreadService(db, chat)
    return Services(
        settings,
        db,
        redis,
        secrets,
        ledger,
        auth,
        catalog,
        gateway,
        chat,
        threads,
        events,
        rate_limits,
        budgets,
    )


def _embedder(settings: Settings, catalog: Catalog) -> Embedder | None:
    """The semantic cache's embedder, when it is switched on and its provider is configured."""
    model = settings.semantic_cache_embedding_model
    provider = catalog.providers.get(settings.semantic_cache_embedding_provider)
    if not settings.semantic_cache_enabled or model is None or provider is None or not provider.available:
        return None
    return LitellmEmbedder(model, provider.api_key, provider.api_base, dimensions=256)


async def close_services(services: Services) -> None:
    await services.budgets.flush()
    await services.events.close()
    await services.redis.aclose()
    services.db.close()
