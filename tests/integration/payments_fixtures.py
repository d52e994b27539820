"""Fixtures for the payments tests: secrets generated per run, the local Stripe and SSLCommerz fakes, the
API configured to use them, the payments function's test client, Stripe events built with the stripe
library and signed like Stripe signs them, and the invariant checks run after each test."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.purchases.payments import payment_key
from shared.settings import Settings, get_settings
from tests.conftest import ServerThread, User
from tests.fakes.sslcommerz import FakeSslCommerz
from tests.fakes.stripe_api import FakeStripe
from tests.integration.test_ledger_invariants import check_invariants, close_client

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "functions" / "payments" / "main.py"
STORE_ID = "teststore"


class Secrets:
    def __init__(self) -> None:
        self.stripe_key = "sk_test_" + secrets.token_hex(12)
        self.webhook_old = "whsec_" + secrets.token_hex(16)
        self.webhook_new = "whsec_" + secrets.token_hex(16)
        self.store_password = secrets.token_hex(10)


@pytest.fixture(scope="module", name="keys")
def fixture_keys() -> Secrets:
    return Secrets()


@pytest.fixture(scope="module", name="fake_stripe")
def fixture_fake_stripe(keys: Secrets) -> Iterator[tuple[FakeStripe, str]]:
    fake = FakeStripe(keys.stripe_key)
    with ServerThread(fake.app) as server:
        yield fake, server.url


@pytest.fixture(scope="module", name="fake_ssl")
def fixture_fake_ssl(keys: Secrets) -> Iterator[tuple[FakeSslCommerz, str]]:
    fake = FakeSslCommerz(STORE_ID, keys.store_password)
    with ServerThread(fake.app) as server:
        yield fake, server.url


@pytest.fixture(scope="module", name="payments_env")
def fixture_payments_env(
    keys: Secrets, fake_stripe: tuple[FakeStripe, str], fake_ssl: tuple[FakeSslCommerz, str]
) -> Iterator[dict[str, str]]:
    """The environment both the API and the function read their billing settings and secrets from."""
    env = {
        "STRIPE_SECRET_KEY": keys.stripe_key,
        "STRIPE_WEBHOOK_SECRETS": f"{keys.webhook_old},{keys.webhook_new}",
        "STRIPE_API_BASE": fake_stripe[1],
        "SSLCOMMERZ_STORE_PASSWORD": keys.store_password,
        "SSLCOMMERZ_STORE_ID": STORE_ID,
        "SSLCOMMERZ_API_BASE": fake_ssl[1],
        "SSLCOMMERZ_TIMEOUT_S": "1",
        "PAYMENTS_URL": "http://payments.test",
        "BILLING_RETURN_URL": "http://app.test/billing",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        get_settings.cache_clear()
        yield env
    get_settings.cache_clear()


@pytest.fixture(scope="module", name="billing_api")
def fixture_billing_api(settings: Settings, payments_env: dict[str, str]) -> Iterator[str]:
    from run_services.api.main import create_app

    configured = settings.model_copy(
        update={
            "stripe_api_base": payments_env["STRIPE_API_BASE"],
            "sslcommerz_api_base": payments_env["SSLCOMMERZ_API_BASE"],
            "sslcommerz_store_id": STORE_ID,
            "sslcommerz_timeout_s": 1.0,
            "payments_url": payments_env["PAYMENTS_URL"],
            "billing_return_url": payments_env["BILLING_RETURN_URL"],
        }
    )
    with ServerThread(create_app(configured)) as server:
        yield server.url


@pytest.fixture(name="api_client")
def fixture_api_client(billing_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=billing_api, timeout=30) as c:
        yield c


@pytest.fixture(name="buyer")
def fixture_buyer(api_client: httpx.Client) -> User:
    email = f"b{uuid.uuid4().hex[:12]}@example.com"
    response = api_client.post(
        "/v1/auth/register", json={"email": email, "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return User(
        body["user"]["id"], email, "correct horse battery", body["access_token"], body["refresh_token"]
    )


@pytest.fixture(name="function")
def fixture_function(payments_env: dict[str, str]) -> Iterator[Any]:
    """The payments function's Flask app (its own module instance); root logging restored after."""
    import functions_framework

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield functions_framework.create_app(target="payments", source=str(SOURCE))
    root.handlers[:] = handlers
    root.setLevel(level)


def stripe_event(kind: str, obj: dict[str, Any], created: int | None = None) -> str:
    """A Stripe event built with the stripe library's objects, serialized as Stripe sends it."""
    event = stripe.Event.construct_from(
        {
            "id": "evt_" + uuid.uuid4().hex,
            "object": "event",
            "api_version": "2025-10-29.clover",
            "created": created or int(time.time()),
            "type": kind,
            "livemode": False,
            "data": {"object": obj},
        },
        "sk_test_unused",
    )
    return json.dumps(event.to_dict())


def sign(payload: str, *secrets_: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header with one v1 per secret, as Stripe sends during a rotation."""
    at = timestamp if timestamp is not None else int(time.time())
    headers = [stripe.WebhookSignature.generate_signature_header(payload, s, timestamp=at) for s in secrets_]
    return ",".join([f"t={at}", *(h.split(",", 1)[1] for h in headers)])


def post_event(function: Any, payload: str, header: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return function.test_client().post("/stripe", data=payload, headers=headers)


def run(coro_fn: Callable[[firestore.AsyncClient], Any]) -> Any:
    """Run an async check with its own Firestore client (the tests themselves are synchronous)."""

    async def go() -> Any:
        db = firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"])
        try:
            return await coro_fn(db)
        finally:
            await close_client(db)

    return asyncio.run(go())


def invariants(wallet_id: str) -> dict[str, int]:
    """The ledger invariants, and: one entry per external id (checked there) for this wallet."""
    result: dict[str, int] = run(lambda db: check_invariants(db, wallet_id))
    return result


def _db() -> firestore.Client:
    return firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])


def payment_doc(provider: str, payment_id: str) -> dict[str, Any] | None:
    return doc("payments", payment_key(provider, payment_id))


def doc(collection: str, doc_id: str) -> dict[str, Any] | None:
    snap = _db().collection(collection).document(doc_id).get()
    return snap.to_dict() if snap.exists else None


def where(collection: str, field: str, value: Any) -> list[dict[str, Any]]:
    query = _db().collection(collection).where(filter=FieldFilter(field, "==", value))
    return [snap.to_dict() or {} for snap in query.stream()]


def entries(wallet_id: str) -> list[dict[str, Any]]:
    snaps = _db().collection("wallets").document(wallet_id).collection("entries").stream()
    return sorted((s.to_dict() or {} for s in snaps), key=lambda e: e["seq"])


# Workspaces paid for: members through the API, the sharded wallet read shard by shard.


def register(api_client: httpx.Client) -> User:
    email = f"m{uuid.uuid4().hex[:12]}@example.com"
    response = api_client.post(
        "/v1/auth/register", json={"email": email, "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return User(
        body["user"]["id"], email, "correct horse battery", body["access_token"], body["refresh_token"]
    )


def create_workspace(api_client: httpx.Client, owner: User) -> dict[str, Any]:
    response = api_client.post("/v1/workspaces", json={"name": "Paid"}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def join(api_client: httpx.Client, owner: User, workspace_id: str, who: User, role: str = "member") -> None:
    sent = api_client.post(
        f"/v1/workspaces/{workspace_id}/invitations",
        json={"email": who.email, "role": role},
        headers=owner.headers,
    )
    assert sent.status_code == 201, sent.text
    accepted = api_client.post(
        "/v1/workspaces/invitations/accept", json={"token": sent.json()["token"]}, headers=who.headers
    )
    assert accepted.status_code == 200, accepted.text


def shard_ids(workspace_id: str) -> list[str]:
    count = int((doc("workspaces", workspace_id) or {})["shards"])
    return [f"ws-{workspace_id}~{k}" for k in range(count)]


def shard_invariants(workspace_id: str) -> list[dict[str, int]]:
    """The ledger invariants on every shard of the workspace's wallet, each shard as its wallet."""
    return [invariants(w) for w in shard_ids(workspace_id)]
