"""The Pub/Sub publisher against Google's emulator: topics are created on first use there, messages
arrive as JSON with their attributes, and an unreachable server is a typed error, not a hang."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest
from google.cloud import pubsub_v1

from scripts.stack import free_port
from shared.adapters.pubsub import PublishFailed, PubSubPublisher
from shared.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _emulator() -> None:
    if not os.environ.get("PUBSUB_EMULATOR_HOST"):
        pytest.exit("PUBSUB_EMULATOR_HOST is not set: run the tests with `make test`.", returncode=3)


def pull_all(subscription: str, want: int) -> list[pubsub_v1.types.PubsubMessage]:
    subscriber = pubsub_v1.SubscriberClient()
    got: list[pubsub_v1.types.PubsubMessage] = []
    try:
        for _ in range(100):  # a single pull may come back empty while messages wait
            response = subscriber.pull(request={"subscription": subscription, "max_messages": 10}, timeout=5)
            got += [m.message for m in response.received_messages]
            if response.received_messages:
                subscriber.acknowledge(
                    request={
                        "subscription": subscription,
                        "ack_ids": [m.ack_id for m in response.received_messages],
                    }
                )
            if len(got) >= want:
                break
    finally:
        subscriber.close()
    return got


async def test_publish_creates_the_topic_and_delivers_json_with_attributes(settings: Settings) -> None:
    publisher = PubSubPublisher.from_settings(settings)
    topic = f"events-{uuid.uuid4().hex[:8]}"
    admin = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic_path = admin.topic_path(settings.gcp_project, topic)
    try:
        first = await publisher.publish(topic, {"n": 0})
        assert first
        assert admin.get_topic(topic=topic_path).name == topic_path  # created on first use
        subscription = subscriber.subscription_path(settings.gcp_project, topic + "-sub")
        subscriber.create_subscription(name=subscription, topic=topic_path)
        ids = await asyncio.gather(
            *(
                publisher.publish(topic, {"n": n, "credits": 10**12}, {"kind": "test", "n": str(n)})
                for n in range(1, 4)
            )
        )
        assert len(set(ids)) == 3
        messages = await asyncio.to_thread(pull_all, subscription, 3)
        assert sorted(json.loads(m.data)["n"] for m in messages) == [1, 2, 3]
        assert all(json.loads(m.data)["credits"] == 10**12 for m in messages)
        assert sorted(m.attributes["n"] for m in messages) == ["1", "2", "3"]
        assert {m.message_id for m in messages} == set(ids)
        subscriber.delete_subscription(subscription=subscription)
    finally:
        await publisher.close()
        admin.delete_topic(topic=topic_path)
        subscriber.close()


async def test_an_unreachable_server_is_publish_failed(settings: Settings) -> None:
    publisher = PubSubPublisher(settings.gcp_project, f"127.0.0.1:{free_port()}", timeout_s=2)
    try:
        with pytest.raises(PublishFailed) as failed:
            await publisher.publish("nowhere", {"n": 1})
        assert failed.value.status == 503
        assert failed.value.code == "publish_failed"
    finally:
        await publisher.close()
