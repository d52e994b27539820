"""Helpers of the jobs tests: the prices of the test media catalog, the stack the `jobs_stack` fixture
(tests/integration/conftest.py) serves, waiting for a job, the bucket and the event topic of the
session, and a finished job's hold."""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from google.api_core.exceptions import AlreadyExists
from google.auth.credentials import AnonymousCredentials
from google.cloud import pubsub_v1, storage

from functions.jobs.main import Worker
from shared.settings import Settings
from tests.support.helpers import User, db

WELCOME = 1_000_000  # the welcome credits of the test settings
IMAGE_PRICE = 40_000  # credits per image of the test model
PRICEY = 600_000  # the test model nobody's welcome credits can pay twice
VIDEO_SECOND_PRICE = 10_000  # credits per second of the test video model
SEARCH_PRICE = 3_000  # credits per web search
EXPORT_PRICE = 2_500  # credits per exported format
VIDEO_POLL_S = 1.0  # how long a video step waits between two checks of its operation


@dataclass
class JobsStack:
    settings: Settings
    api: str
    worker_url: str
    worker: Worker


def wait_for_job(
    client: httpx.Client,
    user: User,
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 30,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/jobs/{job_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job}")


def finished(job: dict[str, Any]) -> bool:
    return job["state"] in ("succeeded", "failed", "cancelled")


def storage_client() -> storage.Client:
    host = os.environ["STORAGE_EMULATOR_HOST"]
    return storage.Client(
        project="demo-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": host}
    )


class Subscription:
    """A pull subscription on the jobs topic of this session, in the Pub/Sub emulator."""

    def __init__(self, project: str, topic: str) -> None:
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        topic_path = self.publisher.topic_path(project, topic)
        with contextlib.suppress(AlreadyExists):
            self.publisher.create_topic(name=topic_path)
        self.path = self.subscriber.subscription_path(project, f"sub-{uuid.uuid4().hex[:10]}")
        self.subscriber.create_subscription(name=self.path, topic=topic_path)

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.subscriber.pull(subscription=self.path, max_messages=50, timeout=5)
            ids = [m.ack_id for m in response.received_messages]
            if ids:
                self.subscriber.acknowledge(subscription=self.path, ack_ids=ids)
            for message in response.received_messages:
                data = json.loads(message.message.data)
                if match(data):
                    return dict(data)
        raise AssertionError("no matching message was published")

    def close(self) -> None:
        self.subscriber.delete_subscription(subscription=self.path)
        self.subscriber.close()


def hold_of(job_id: str, timeout: float = 10) -> dict[str, Any]:
    """The ledger hold of a finished job, read from Firestore. The job's final state is written just
    before its hold is closed, so wait (briefly) while the hold is still pending."""
    job = db().collection("jobs").document(job_id).get().to_dict() or {}
    wallet = db().collection("wallets").document(job["wallet_id"])
    deadline = time.monotonic() + timeout
    while True:
        hold = wallet.collection("holds").document(f"job:{job_id}").get().to_dict() or {}
        if hold.get("state") != "pending" or time.monotonic() > deadline:
            return hold
        time.sleep(0.05)
