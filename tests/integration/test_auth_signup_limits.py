"""Sign-up limits (issue 11, item 1): per address per hour (an IPv6 address counts as its /64) and in all;
a refused sign-up creates nothing. With Redis down, register, login and Google sign-in fail closed (503
rate_limiter_unavailable); refresh and the verification link fail open."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis as sync_redis

from scripts.stack import free_port
from shared.auth.limits import address_key
from shared.settings import Settings
from tests.support.helpers import assert_error, db
from tests.support.servers import ServerThread

PER_ADDRESS = 3
GLOBAL = 4
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def signup_api(settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    limited = settings.model_copy(
        update={"signup_per_address_per_hour": PER_ADDRESS, "signup_global_per_hour": 1_000_000}
    )
    with ServerThread(create_app(limited)) as server:
        yield server.url


def register(api: str, address: str) -> tuple[str, httpx.Response]:
    email = f"s{uuid.uuid4().hex[:12]}@example.com"
    with httpx.Client(base_url=api, timeout=30, headers={"X-Forwarded-For": address}) as client:
        return email, client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})


def exists(email: str) -> bool:
    return bool(db().collection("user_emails").document(email).get().exists)


def v4() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250}"


def v6_net() -> str:
    return f"2001:db8:{uuid.uuid4().int % 0xFFFF:x}:{uuid.uuid4().int % 0xFFFF:x}"


def test_address_keys() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("unknown") == "unknown"


def test_sign_ups_per_address_then_429_and_nothing_created(signup_api: str) -> None:
    address = v4()
    for _ in range(PER_ADDRESS):
        email, response = register(signup_api, address)
        assert response.status_code == 202, response.text
        assert exists(email)
    email, refused = register(signup_api, address)
    assert_error(refused, 429, "too_many_sign_ups")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert not exists(email)
    # Another address is not affected.
    assert register(signup_api, v4())[1].status_code == 202


def test_an_ipv6_address_counts_as_its_64(signup_api: str) -> None:
    net = v6_net()
    for host in range(1, PER_ADDRESS + 1):
        assert register(signup_api, f"{net}::{host:x}")[1].status_code == 202
    email, refused = register(signup_api, f"{net}:ffff:ffff:ffff:fffe")  # same /64, other address
    assert_error(refused, 429, "too_many_sign_ups")
    assert not exists(email)
    assert register(signup_api, f"{v6_net()}::1")[1].status_code == 202  # another /64


def test_the_global_limit(settings: Settings) -> None:
    from run_services.api.main import create_app

    r = sync_redis.Redis.from_url(settings.redis_url)
    r.delete("win:signup:all")  # other modules' sign-ups count too
    capped = settings.model_copy(update={"signup_global_per_hour": GLOBAL})
    try:
        with ServerThread(create_app(capped)) as server:
            for _ in range(GLOBAL):
                assert register(server.url, v4())[1].status_code == 202
            email, refused = register(server.url, v4())
            assert_error(refused, 429, "too_many_sign_ups")
            assert "on this service" in refused.json()["error"]["message"]
            assert not exists(email)
    finally:
        r.delete("win:signup:all")
        r.close()


@pytest.fixture(scope="module")
def dead_redis_api(settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with ServerThread(create_app(dead)) as server:
        yield server.url


def test_with_redis_down_sign_up_and_sign_in_fail_closed(dead_redis_api: str) -> None:
    email = f"d{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD}
    with httpx.Client(base_url=dead_redis_api, timeout=30) as client:
        for path, payload in (
            ("/v1/auth/register", body),
            ("/v1/auth/login", body),
            ("/v1/auth/google", {"id_token": "x.y.z"}),
        ):
            response = client.post(path, json=payload)
            assert_error(response, 503, "rate_limiter_unavailable")
            assert response.headers["Retry-After"]
        assert not exists(email)
        # Refresh fails open (an unguessable token; a signed-in user stays signed in): the token is
        # checked, not the limiter.
        assert_error(client.post("/v1/auth/refresh", json={"refresh_token": "x"}), 401, "invalid_token")
        assert_error(
            client.get("/v1/auth/verify-email", params={"token": "x"}), 400, "invalid_verification_token"
        )
        assert client.post("/v1/auth/logout", json={"refresh_token": "x"}).status_code == 204


def test_the_service_fails_closed_too(settings: Settings) -> None:
    """Below the routes: the limits raise, whoever calls them."""
    from google.cloud import firestore
    from redis.asyncio import Redis

    from shared.adapters.secrets import EnvSecrets
    from shared.auth.errors import RateLimiterUnavailable
    from shared.bootstrap import build_auth
    from shared.ledger.ledger import Ledger

    async def run() -> None:
        client = firestore.AsyncClient(project=settings.gcp_project)
        dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True)
        auth = build_auth(client, dead, Ledger(client, settings), settings, EnvSecrets({}))
        try:
            with pytest.raises(RateLimiterUnavailable):
                await auth.throttle("10.0.0.1")
            await auth.throttle("10.0.0.1", fail_closed=False)  # refresh: allowed
            with pytest.raises(RateLimiterUnavailable):
                await auth.signup.register("nobody-dead@example.com", PASSWORD, "10.0.0.1")
            with pytest.raises(RateLimiterUnavailable):
                await auth.login("nobody-dead@example.com", PASSWORD)
        finally:
            await dead.aclose()
            client.close()

    asyncio.run(run())
    assert not exists("nobody-dead@example.com")
