"""The unauthenticated auth routes are rate-limited per client address (with Redis down they fail closed:
tests/integration/test_auth_signup_limits.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from shared.settings import Settings
from tests.support.helpers import assert_error
from tests.support.servers import ServerThread

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
        assert limited.headers["X-RateLimit-Limit-Requests"] == str(LIMIT)
        assert limited.headers["X-RateLimit-Remaining-Requests"] == "0"
        assert limited.headers["X-RateLimit-Reset-Requests"].endswith("s")
        # The bucket is shared by every unauthenticated auth route.
        assert client.post("/v1/auth/refresh", json={"refresh_token": "x"}).status_code == 429
        assert client.post("/v1/auth/register", json=body).status_code == 429
        assert client.get("/v1/auth/config").status_code == 429
        # Logout is not limited: it can only ever revoke.
        assert client.post("/v1/auth/logout", json={"refresh_token": "x"}).status_code == 204

    with httpx.Client(base_url=limited_api, timeout=30, headers={"X-Forwarded-For": address()}) as other:
        assert other.post("/v1/auth/login", json=body).status_code == 401


def test_a_forged_first_forwarded_hop_does_not_escape_the_limit(limited_api: str) -> None:
    ip = address()
    body = {"email": "nobody@example.com", "password": "wrong password"}
    with httpx.Client(base_url=limited_api, timeout=30) as client:
        statuses = [
            client.post(
                "/v1/auth/login", json=body, headers={"X-Forwarded-For": f"{address()}, {ip}"}
            ).status_code
            for _ in range(LIMIT + 1)
        ]
    assert statuses[:LIMIT] == [401] * LIMIT
    assert statuses[LIMIT] == 429
