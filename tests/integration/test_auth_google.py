"""Google sign-in over HTTP, with ID tokens signed by a local key whose certificate is served in Google's
v1 certs format (tests/fakes/google_certs.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from shared.settings import Settings
from tests.fakes.google_certs import FakeGoogle
from tests.support.helpers import User, assert_error
from tests.support.servers import ServerThread


@pytest.fixture(scope="module")
def google(settings: Settings) -> Iterator[FakeGoogle]:
    assert settings.google_client_id
    with FakeGoogle(settings.google_client_id).serve() as fake:
        yield fake


@pytest.fixture(scope="module")
def google_api(settings: Settings, google: FakeGoogle) -> Iterator[str]:
    from run_services.api.main import create_app

    with ServerThread(
        create_app(settings.model_copy(update={"google_certs_url": google.certs_url}))
    ) as server:
        yield server.url


@pytest.fixture
def gclient(google_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=google_api, timeout=60) as c:
        yield c


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/v1/auth/google", json={"id_token": token})


def test_first_sign_in_creates_the_user_once(
    gclient: httpx.Client, google: FakeGoogle, settings: Settings
) -> None:
    claims = google.claims(email="Someone.Google@Example.com")
    first = sign_in(gclient, google.sign(claims))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["user"]["email"] == "someone.google@example.com"
    assert (
        gclient.get("/v1/api-keys", headers={"Authorization": f"Bearer {body['access_token']}"}).status_code
        == 200
    )

    second = sign_in(gclient, google.sign(claims | {"iat": int(time.time())}))
    assert second.status_code == 200, second.text
    assert second.json()["user"]["id"] == body["user"]["id"]
    credits = gclient.get("/v1/credits", headers={"Authorization": f"Bearer {second.json()['access_token']}"})
    assert credits.json()["available"] == settings.welcome_credits
    # The account has no password, and password sign-up with its email answers as for any address
    # (202, nothing said) but creates nothing: the password still does not sign in.
    login = gclient.post("/v1/auth/login", json={"email": claims["email"], "password": "any password at all"})
    assert_error(login, 401, "invalid_credentials")
    register = gclient.post(
        "/v1/auth/register", json={"email": claims["email"], "password": "long enough pw"}
    )
    assert register.status_code == 202, register.text
    login = gclient.post("/v1/auth/login", json={"email": claims["email"], "password": "long enough pw"})
    assert_error(login, 401, "invalid_credentials")
    # Its refresh token rotates like any other.
    assert gclient.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}).status_code == 200


def test_an_email_registered_with_a_password_is_not_taken_over(
    gclient: httpx.Client, google: FakeGoogle, user: User
) -> None:
    response = sign_in(gclient, google.id_token(email=user.email))
    assert_error(response, 409, "email_taken")


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong-aud", "invalid_token"),
        ("expired", "invalid_token"),
        ("wrong-signature", "invalid_token"),
        ("unverified-email", "email_not_verified"),
        ("wrong-issuer", "invalid_token"),
        ("garbage", "invalid_token"),
    ],
)
def test_bad_id_tokens_are_401(gclient: httpx.Client, google: FakeGoogle, case: str, code: str) -> None:
    old = int(time.time()) - 7200
    token = {
        "wrong-aud": lambda: google.id_token(aud="someone-else.apps.googleusercontent.com"),
        "expired": lambda: google.id_token(iat=old, exp=old + 3600),
        "wrong-signature": lambda: google.sign(google.claims(), key=FakeGoogle.other_key()),
        "unverified-email": lambda: google.id_token(email_verified=False),
        "wrong-issuer": lambda: google.id_token(iss="https://accounts.evil.example"),
        "garbage": lambda: "not-a-token",
    }[case]()
    assert_error(sign_in(gclient, token), 401, code)


def test_a_rejected_token_creates_nobody(gclient: httpx.Client, google: FakeGoogle) -> None:
    claims = google.claims()
    assert sign_in(gclient, google.sign(claims | {"email_verified": False})).status_code == 401
    first = sign_in(gclient, google.sign(claims))
    assert first.status_code == 200, first.text
    assert sign_in(gclient, google.sign(claims)).json()["user"]["id"] == first.json()["user"]["id"]


def test_concurrent_first_sign_ins_make_one_user(gclient: httpx.Client, google: FakeGoogle) -> None:
    token = google.id_token()
    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(lambda _: sign_in(gclient, token), range(5)))
    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    assert len({r.json()["user"]["id"] for r in responses}) == 1
