"""The outside systems one process talks to, built once per process (per event loop: the gRPC clients
belong to the loop that built them) and closed once: one Firestore client, one Redis client, one Pub/Sub
publisher, the secret source and the model catalog read through it."""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import firestore
from redis.asyncio import Redis

from shared.adapters.firestore import async_client, close_client
from shared.adapters.pubsub import PubSubPublisher
from shared.adapters.redis import redis_client
from shared.adapters.secrets import SecretSource, secret_source
from shared.catalog.catalog import Catalog
from shared.settings import Settings


@dataclass
class Clients:
    settings: Settings
    db: firestore.AsyncClient
    redis: Redis
    secrets: SecretSource
    publisher: PubSubPublisher
    catalog: Catalog

    async def close(self) -> None:
        await self.publisher.close()
        await self.redis.aclose()
        await close_client(self.db)


def build_clients(settings: Settings, secrets: SecretSource | None = None) -> Clients:
    secrets = secrets or secret_source(settings)
    return Clients(
        settings=settings,
        db=async_client(settings),
        redis=redis_client(settings, secrets),
        secrets=secrets,
        publisher=PubSubPublisher.from_settings(settings),
        catalog=Catalog.load(settings, secrets),
    )
