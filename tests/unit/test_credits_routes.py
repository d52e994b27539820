"""The credits routes with the caller and the ledger stubbed (the auth flow is tested elsewhere)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from run_services.api.deps import get_principal, get_services
from run_services.api.errors import install_error_handlers
from run_services.api.routes import credits
from shared.auth.schemas import Account, Principal
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Balance, Entry, EntryPage
from shared.settings import Settings

AT = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


class StubLedger(Ledger):
    """The real argument checks, canned answers instead of Firestore."""

    def __init__(self) -> None:
        super().__init__(MagicMock(), Settings(GOOGLE_CLOUD_PROJECT="demo-unit"))
        self.calls: list[tuple[Any, ...]] = []

    async def balance(self, wallet_id: str) -> Balance:
        self.calls.append(("balance", wallet_id))
        return Balance(available=700, reserved=300)

    async def entries(self, wallet_id: str, limit: int = 50, cursor: str | None = None) -> EntryPage:
        self.calls.append(("entries", wallet_id, limit, cursor))
        if cursor is not None and not cursor.isdigit():
            return await super().entries(wallet_id, limit, cursor)  # raises invalid_cursor before any I/O
        entry = Entry(id="e2", kind="reserve", amount=-300, ref="h1", seq=2, at=AT)
        return EntryPage(data=[entry], next_cursor="2")


@pytest.fixture
def ledger() -> StubLedger:
    return StubLedger()


@pytest.fixture
def client(ledger: StubLedger) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(credits.router)
    app.dependency_overrides[get_principal] = lambda: Principal(user_id="u1", wallet_id="w1", auth="jwt")
    account = Account(
        id="u1", email="u1@example.com", email_verified=False, welcome_credits_granted=False, notice="verify"
    )

    async def account_of(user_id: str) -> Account:
        assert user_id == "u1"
        return account

    auth = SimpleNamespace(signup=SimpleNamespace(account=account_of))
    app.dependency_overrides[get_services] = lambda: SimpleNamespace(ledger=ledger, auth=auth)
    with TestClient(app) as c:
        yield c


def test_balance(client: TestClient, ledger: StubLedger) -> None:
    response = client.get("/v1/credits")
    assert response.status_code == 200
    assert response.json() == {"available": 700, "reserved": 300, "email_verified": False, "notice": "verify"}
    assert ledger.calls == [("balance", "w1")]


def test_ledger_page(client: TestClient, ledger: StubLedger) -> None:
    response = client.get("/v1/credits/ledger", params={"limit": 1, "cursor": "9"})
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [
            {
                "id": "e2",
                "kind": "reserve",
                "amount": -300,
                "ref": "h1",
                "seq": 2,
                "at": "2026-01-02T00:00:00Z",
            }
        ],
        "next_cursor": "2",
    }
    assert ledger.calls == [("entries", "w1", 1, "9")]
    client.get("/v1/credits/ledger")
    assert ledger.calls[-1] == ("entries", "w1", 50, None)


@pytest.mark.parametrize("limit", ["0", "201", "ten"])
def test_bad_limit_is_422(client: TestClient, ledger: StubLedger, limit: str) -> None:
    response = client.get("/v1/credits/ledger", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert ledger.calls == []


def test_bad_cursor_is_400(client: TestClient) -> None:
    response = client.get("/v1/credits/ledger", params={"cursor": "abc"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_long_cursor_is_400(client: TestClient) -> None:
    response = client.get("/v1/credits/ledger", params={"cursor": "x" * 500})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
