"""Register, login, refresh and logout over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from shared.settings import Settings
from tests.support.helpers import User, assert_error

PASSWORD = "correct horse battery staple"


def new_email() -> str:
    return f"u{uuid.uuid4().hex[:12]}@example.com"


def test_register_returns_tokens_that_work(client: httpx.Client) -> None:
    email = new_email()
    response = client.post("/v1/auth/register", json={"email": f"  {email.upper()} ", "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["user"]["email"] == email
    assert body["access_token"]
    assert body["refresh_token"]
    me = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text


def test_welcome_credits_are_granted_once(client: httpx.Client, settings: Settings, user: User) -> None:
    assert client.get("/v1/credits", headers=user.headers).json()["available"] == settings.welcome_credits
    login = client.post("/v1/auth/login", json={"email": user.email, "password": user.password}).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    assert client.get("/v1/credits", headers=headers).json()["available"] == settings.welcome_credits


def test_duplicate_email_is_409_whatever_the_case(client: httpx.Client, user: User) -> None:
    response = client.post("/v1/auth/register", json={"email": user.email.upper(), "password": PASSWORD})
    assert_error(response, 409, "email_taken")


def test_concurrent_registrations_of_one_email_have_one_winner(client: httpx.Client) -> None:
    email = new_email()

    def register(_: int) -> int:
        return client.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(register, range(8)))
    assert statuses == [201] + [409] * 7


def test_weak_password_and_bad_email_are_422(client: httpx.Client) -> None:
    assert_error(
        client.post("/v1/auth/register", json={"email": new_email(), "password": "short"}),
        422,
        "weak_password",
    )
    assert_error(
        client.post("/v1/auth/register", json={"email": new_email(), "password": "x" * 257}),
        422,
        "weak_password",
    )
    assert_error(
        client.post("/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD}),
        422,
        "invalid_email",
    )
    assert_error(client.post("/v1/auth/register", json={"email": new_email()}), 422, "invalid_request")


def test_login(client: httpx.Client, user: User) -> None:
    response = client.post("/v1/auth/login", json={"email": user.email, "password": user.password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {"id": user.user_id, "email": user.email}
    assert body["refresh_token"] != user.refresh_token


def test_login_failures_do_not_tell_which_emails_exist(client: httpx.Client, user: User) -> None:
    wrong_password = client.post("/v1/auth/login", json={"email": user.email, "password": "wrong password!"})
    unknown_email = client.post("/v1/auth/login", json={"email": new_email(), "password": user.password})
    bad_email = client.post("/v1/auth/login", json={"email": "nonsense", "password": user.password})
    for response in (wrong_password, unknown_email, bad_email):
        assert_error(response, 401, "invalid_credentials")
    assert wrong_password.json() == unknown_email.json() == bad_email.json()


def test_refresh_rotates(client: httpx.Client, user: User) -> None:
    response = client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == user.user_id
    assert body["refresh_token"] != user.refresh_token
    again = client.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200, again.text
    new_access = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert client.get("/v1/api-keys", headers=new_access).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_family(
    client: httpx.Client, make_user: Callable[..., User]
) -> None:
    user = make_user()
    rotated = client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token}).json()
    newest = client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).json()
    # An attacker replays the first token: the whole family dies, including the newest token.
    reuse = client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_error(reuse, 401, "refresh_token_reused")
    assert_error(
        client.post("/v1/auth/refresh", json={"refresh_token": newest["refresh_token"]}), 401, "invalid_token"
    )
    # Other sessions of the same user (another login) are a different family and keep working.
    other = client.post("/v1/auth/login", json={"email": user.email, "password": user.password}).json()
    assert client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200


def test_unknown_refresh_token_is_401(client: httpx.Client) -> None:
    assert_error(client.post("/v1/auth/refresh", json={"refresh_token": "nope"}), 401, "invalid_token")
    assert_error(client.post("/v1/auth/refresh", json={}), 422, "invalid_request")


def test_logout_revokes_and_is_idempotent(client: httpx.Client, user: User) -> None:
    rotated = client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token}).json()
    response = client.post("/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 204, response.text
    assert_error(
        client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}),
        401,
        "invalid_token",
    )
    assert client.post("/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]}).status_code == 204
    assert client.post("/v1/auth/logout", json={"refresh_token": "unknown"}).status_code == 204
