"""Publishing events (budget alerts now; job progress and billing later) through one small interface.

`PubSubPublisher` is the Google Pub/Sub adapter: nothing else imports the Pub/Sub client. Messages are
JSON objects with string attributes. The client is created once per instance, lazily (creating it looks
up credentials, which blocks), and its publish future is awaited without blocking the event loop.

Against the emulator (settings.pubsub_emulator_host, or PUBSUB_EMULATOR_HOST) a topic is created on first
use; in the cloud topics are Terraform's business, and publishing to a missing one is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from google.api_core.exceptions import AlreadyExists
from google.api_core.retry import Retry

from shared.errors import AppError
from shared.settings import Settings

if TYPE_CHECKING:  # imported on first use (in a worker thread): start-up that chat never needs
    from google.cloud import pubsub_v1

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 30.0


class PublishFailed(AppError):
    status = 503
    type = "api_error"
    code = "publish_failed"


class Publisher(Protocol):
    async def publish(
        self, topic: str, data: Mapping[str, Any], attributes: Mapping[str, str] | None = None
    ) -> str:
        """Publish one message; returns its message id. Raises PublishFailed."""
        ...


class PubSubPublisher:
    def __init__(self, project: str, emulator_host: str | None = None, timeout_s: float = PUBLISH_TIMEOUT_S):
        self._project = project
        self._emulator_host = emulator_host or os.environ.get("PUBSUB_EMULATOR_HOST") or None
        self._timeout_s = timeout_s
        self._client: pubsub_v1.PublisherClient | None = None
        self._topics: set[str] = set()
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> PubSubPublisher:
        return cls(settings.gcp_project, settings.pubsub_emulator_host)

    async def publish(
        self, topic: str, data: Mapping[str, Any], attributes: Mapping[str, str] | None = None
    ) -> str:
        payload = json.dumps(data, separators=(",", ":"), default=str).encode()
        try:
            client, path = await self._ready(topic)
            retry = Retry(timeout=self._timeout_s)  # the client's default retries transient errors forever
            future = client.publish(
                path, payload, retry=retry, timeout=self._timeout_s, **dict(attributes or {})
            )
            message_id = await asyncio.wait_for(asyncio.wrap_future(future), self._timeout_s)
        except Exception as exc:
            log.warning("publish failed", extra={"topic": topic}, exc_info=True)
            raise PublishFailed(f"Could not publish to {topic}; retry later.") from exc
        return str(message_id)

    async def _ready(self, topic: str) -> tuple[pubsub_v1.PublisherClient, str]:
        async with self._lock:
            if self._client is None:
                self._client = await anyio.to_thread.run_sync(self._new_client)
            client: Any = self._client
            path = str(client.topic_path(self._project, topic))
            if self._emulator_host and path not in self._topics:
                await anyio.to_thread.run_sync(_ensure_topic, client, path, self._timeout_s)
            self._topics.add(path)
        return client, path

    def _new_client(self) -> pubsub_v1.PublisherClient:
        from google.cloud import pubsub_v1

        if self._emulator_host:
            import grpc
            from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

            channel = grpc.insecure_channel(self._emulator_host)
            return pubsub_v1.PublisherClient(transport=PublisherGrpcTransport(channel=channel))
        return pubsub_v1.PublisherClient()

    async def close(self) -> None:
        """Flush pending messages and stop the client's background threads."""
        if self._client is not None:
            client, self._client = self._client, None
            await anyio.to_thread.run_sync(client.stop)


def _ensure_topic(client: pubsub_v1.PublisherClient, path: str, timeout_s: float) -> None:
    with contextlib.suppress(AlreadyExists):
        client.create_topic(name=path, retry=Retry(timeout=timeout_s), timeout=timeout_s)
