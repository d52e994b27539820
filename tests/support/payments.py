"""Helpers of the payments tests: the secrets of a run, Stripe events built with the stripe library and
signed like Stripe signs them, posting them to the payments function, reading what was stored, the
invariant checks, and workspaces paid for. The fixtures (fakes, API, function) are in
tests/integration/conftest.py."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import stripe
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.purchases.payments import payment_key
from tests.support.helpers import User, sign_up
from tests.support.ledger import check_invariants, close_client

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "functions" / "payments" / "main.py"
STORE_ID = "teststore"


class Secrets:
    def __init__(self) -> None:
        self.stripe_key = "sk_test_" + secrets.token_hex(12)
        self.webhook_old = "whsec_" + secrets.token_hex(16)
        self.webhook_new = "whsec_" + secrets.token_hex(16)
        self.store_password = secrets.token_hex(10)


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
    return sign_up(api_client, f"m{uuid.uuid4().hex[:12]}@example.com", "correct horse battery")


def create_workspace(api_client: httpx.Client, owner: User) -> dict[str, Any]:
    response = api_client.post("/v1/workspaces", json={"name": "Paid"}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def shard_ids(workspace_id: str) -> list[str]:
    count = int((doc("workspaces", workspace_id) or {})["shards"])
    return [f"ws-{workspace_id}~{k}" for k in range(count)]


def shard_invariants(workspace_id: str) -> list[dict[str, int]]:
    """The ledger invariants on every shard of the workspace's wallet, each shard as its wallet."""
    return [invariants(w) for w in shard_ids(workspace_id)]
