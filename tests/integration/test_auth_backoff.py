"""Per-account login backoff (issue 11, item 7): failed passwords slow one account down whatever address
they come from (credential stuffing spread over many IPs), the same for an address with no account (so
the backoff tells nobody which accounts exist), and a success resets it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.settings import Settings
from tests.support.helpers import User, assert_error, db, sign_up
from tests.support.servers import ServerThread

FREE = 3
BASE_S = 2


@pytest.fixture(scope="module")
def backoff_api(settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    configured = settings.model_copy(
        update={
            "login_free_failures": FREE,
            "login_backoff_base_s": float(BASE_S),
            "login_backoff_max_s": 30.0,
            "login_failure_window_s": 600,
        }
    )
    with ServerThread(create_app(configured)) as server:
        yield server.url


@pytest.fixture
def bclient(backoff_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backoff_api, timeout=30) as c:
        yield c


def somewhere() -> dict[str, str]:
    """A request from an address nobody used before (Cloud Run appends the real one last)."""
    n = uuid.uuid4().int
    return {"X-Forwarded-For": f"198.51.{n % 250}.{(n >> 8) % 250}"}


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/v1/auth/login", json={"email": email, "password": password}, headers=somewhere())


def test_failures_from_many_addresses_slow_one_account(bclient: httpx.Client) -> None:
    user: User = sign_up(bclient)
    for _ in range(FREE + 1):  # the free attempts, then one more that starts the wait
        assert_error(login(bclient, user.email, "wrong password!"), 401, "invalid_credentials")
    refused = login(bclient, user.email, "wrong password!")
    assert_error(refused, 429, "too_many_login_attempts")
    assert 1 <= int(refused.headers["Retry-After"]) <= BASE_S
    # While it waits, even the right password is refused: guessing would go on otherwise.
    assert_error(login(bclient, user.email, user.password), 429, "too_many_login_attempts")
    # Another account is not slowed.
    other = sign_up(bclient)
    assert login(bclient, other.email, other.password).status_code == 200
    # The lockout is one entry of the account's audit trail, however many attempts it refused.
    locked = db().collection("audit").where(filter=FieldFilter("account", "==", user.user_id))
    actions = [e.to_dict()["action"] for e in locked.stream()]
    assert actions.count("auth.sign_in_locked") in (1, 2) and "auth.sign_in" in actions  # 2: a 15-min edge

    time.sleep(BASE_S + 0.2)
    assert_error(login(bclient, user.email, "wrong password!"), 401, "invalid_credentials")
    doubled = login(bclient, user.email, "wrong password!")  # the next wait is twice as long
    assert_error(doubled, 429, "too_many_login_attempts")
    assert BASE_S < int(doubled.headers["Retry-After"]) <= 2 * BASE_S

    time.sleep(2 * BASE_S + 0.2)
    assert login(bclient, user.email, user.password).status_code == 200  # and that resets it
    for _ in range(FREE):
        assert_error(login(bclient, user.email, "wrong password!"), 401, "invalid_credentials")


def test_an_address_without_an_account_backs_off_alike(bclient: httpx.Client) -> None:
    user: User = sign_up(bclient)
    unknown = f"nobody{uuid.uuid4().hex[:10]}@example.com"
    answers: dict[str, list[tuple[int, str]]] = {}
    for email in (user.email, unknown):
        answers[email] = []
        for _ in range(FREE + 2):
            response = login(bclient, email, "wrong password!")
            answers[email].append((response.status_code, response.json()["error"]["code"]))
    assert answers[user.email] == answers[unknown]
    assert answers[unknown][-1] == (429, "too_many_login_attempts")


def test_the_key_is_the_normalised_email(bclient: httpx.Client) -> None:
    user: User = sign_up(bclient)
    for _ in range(FREE + 1):
        login(bclient, f"  {user.email.upper()} ", "wrong password!")
    assert_error(login(bclient, user.email, user.password), 429, "too_many_login_attempts")
