"""The unauthenticated auth routes are rate-limited per client address."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from shared.settings import Settings
from tests.conftest import ServerThread
from tests.integration.test_auth import assert_error

LIMIT = 3


@pytest.fixture(scope="module")
def limited_api(settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    with ServerThread(create_app(settings.model_copy(update={"auth_rate_per_minute": LIMIT}))) as server:
        yield server.url


def address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250}"


def test_over_the_limit_is_429_with_retry_after(limited_api: str) -> None:
    ip = address()
    with httpx.Client(base_url=limited_api, timeout=30, headers={"X-Forwarded-For": ip}) as client:
        body = {"email": "nobody@example.com", "password": "wrong password"}
        for _ in range(LIMIT):
            assert client.post("/v1/auth/login", json=body).status_code == 401
        limited = client.post("/v1/auth/login", json=body)
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60 // LIMIT
        # The bucket is shared by every unauthenticated auth route.
        assert client.post("/v1/auth/refresh", json={"refresh_token": "x"}).status_code == 429
        assert client.post("/v1/auth/register", json=body).status_code == 429
        # Logout is not limited: it can only ever revoke.
        assert client.post("/v1/auth/logout", json={"refresh_token": "x"}).status_code == 204

    with httpx.Client(base_url=limited_api, timeout=30, headers={"X-Forwarded-For": address()}) as other:
        assert other.post("/v1/auth/login", json=body).status_code == 401
