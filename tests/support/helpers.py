"""Test helpers: a registered user, API errors, reading balances and usage records, draining a wallet,
parsing SSE."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from google.cloud import firestore

from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.settings import Settings


@dataclass
class User:
    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


_db: firestore.Client | None = None


def db() -> firestore.Client:
    global _db
    if _db is None:
        _db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    return _db


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """The API's error body: the status, the code, and a type and message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"]
    assert error["message"]


def sign_up(
    client: httpx.Client,
    email: str | None = None,
    password: str = "correct horse battery staple",
    headers: dict[str, str] | None = None,
) -> User:
    """A new account: registered (202, no tokens: issue 11, item 7), then signed in with its password.
    With the test settings (auth_auto_verify_email) it is verified and has its welcome credits."""
    email = email or f"u{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": password}
    registered = client.post("/v1/auth/register", json=body, headers=headers)
    assert registered.status_code == 202, registered.text
    assert registered.json()["status"] == "verification_sent"
    login = client.post("/v1/auth/login", json=body, headers=headers)
    assert login.status_code == 200, login.text
    tokens = login.json()
    return User(tokens["user"]["id"], email, password, tokens["access_token"], tokens["refresh_token"])


def register(client: httpx.Client) -> tuple[str, dict[str, str]]:
    """A new account, registered from an address of its own so the per-IP auth limit never interferes:
    (user id, auth headers)."""
    address = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    user = sign_up(client, f"rl{uuid.uuid4().hex[:12]}@example.com", headers={"X-Forwarded-For": address})
    return user.user_id, user.headers


def balance(client: httpx.Client, headers: dict[str, str]) -> dict[str, int]:
    """The money of GET /v1/credits (available, reserved), without its account fields."""
    response = client.get("/v1/credits", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return {"available": body["available"], "reserved": body["reserved"]}


def usage_for(request_id: str, timeout: float = 10) -> dict[str, Any]:
    """The usage record of a request (written after the response, so wait for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        docs = list(
            db()
            .collection("usage")
            .where(filter=firestore.FieldFilter("request_id", "==", request_id))
            .stream()
        )
        if docs:
            assert len(docs) == 1, f"{len(docs)} usage records for one request"
            return docs[0].to_dict() or {}
        time.sleep(0.05)
    raise AssertionError(f"no usage record for request {request_id}")


def wait_settled(client: httpx.Client, headers: dict[str, str], timeout: float = 10) -> dict[str, int]:
    """The balance once no hold is pending any more."""
    deadline = time.monotonic() + timeout
    while True:
        now = balance(client, headers)
        if now["reserved"] == 0 or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def drain_to(settings: Settings, wallet_id: str, leave: int) -> None:
    """Hold all but `leave` credits of a wallet through the ledger (a pending hold, as a busy user has)."""

    async def run() -> None:
        client = firestore.AsyncClient(project=settings.gcp_project)
        ledger = Ledger(client, settings)
        available = (await ledger.balance(wallet_id)).available
        await ledger.reserve(
            wallet_id, uuid.uuid4().hex, want=available - leave, minimum=available - leave, ttl_s=3600
        )
        client.close()

    asyncio.run(run())


def rid() -> dict[str, str]:
    return {"X-Request-ID": uuid.uuid4().hex}


def sse_events(lines: list[str]) -> list[Any]:
    out: list[Any] = []
    for line in lines:
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def grant_credits(
    settings: Settings,
    wallet_id: str,
    amount: int,
    expires_at: dt.datetime | None = None,
    shards: int = 0,
) -> None:
    """Grant credits straight through the ledger: to one wallet, or spread over `shards` shards of a
    sharded wallet `wallet_id` (a workspace's base id); expiring at `expires_at` when given."""

    async def run() -> None:
        client = firestore.AsyncClient(project=settings.gcp_project)
        ledger = Ledger(client, settings)
        ref = f"test-grant-{uuid.uuid4().hex}"
        if shards:
            await ShardedWallets(ledger).grant(wallet_id, shards, amount, ref, expires_at=expires_at)
        else:
            await ledger.grant(wallet_id, amount, ref, expires_at=expires_at)
        client.close()

    asyncio.run(run())
