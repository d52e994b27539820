"""Register, login, refresh and logout over HTTP."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from google.cloud import firestore

from shared.auth.schemas import SignUpAccepted
from shared.settings import Settings
from tests.support.helpers import User, assert_error, db
from tests.support.servers import ServerThread

PASSWORD = "correct horse battery staple"
ACCEPTED = SignUpAccepted().model_dump()


def new_email() -> str:
    return f"u{uuid.uuid4().hex[:12]}@example.com"


def test_register_answers_202_without_tokens_then_login_works(client: httpx.Client) -> None:
    email = new_email()
    response = client.post("/v1/auth/register", json={"email": f"  {email.upper()} ", "password": PASSWORD})
    assert response.status_code == 202, response.text
    assert response.json() == ACCEPTED
    assert "access_token" not in response.text
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
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


def test_a_known_email_gets_the_same_answer_and_changes_nothing(client: httpx.Client, user: User) -> None:
    other_password = "another password entirely"
    known = client.post("/v1/auth/register", json={"email": user.email.upper(), "password": other_password})
    new = client.post("/v1/auth/register", json={"email": new_email(), "password": other_password})
    assert known.status_code == new.status_code == 202
    assert known.json() == new.json() == ACCEPTED
    assert known.headers.get("content-length") == new.headers.get("content-length")
    # The account is untouched: its own password still works, the would-be one does not.
    assert_error(
        client.post("/v1/auth/login", json={"email": user.email, "password": other_password}),
        401,
        "invalid_credentials",
    )
    login = client.post("/v1/auth/login", json={"email": user.email, "password": user.password})
    assert login.json()["user"]["id"] == user.user_id
    claim = db().collection("user_emails").document(user.email).get()
    assert claim.get("user_id") == user.user_id


def test_a_known_email_takes_as_long_as_a_new_one(client: httpx.Client, user: User) -> None:
    """The password is hashed either way (Argon2id, tens of milliseconds): without that a known address
    would answer many times faster than a new one. (The tests turn the response-time floor,
    signup_min_response_s, off: this is the hashing alone.)"""

    def timed(email: str) -> float:
        t0 = time.perf_counter()
        assert (
            client.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202
        )
        return time.perf_counter() - t0

    known = statistics.median(timed(user.email) for _ in range(5))
    new = statistics.median(timed(new_email()) for _ in range(5))
    assert known > 0.4 * new, (known, new)


def test_every_sign_up_answer_takes_the_floor(settings: Settings, user: User) -> None:
    from run_services.api.main import create_app

    floor = 0.6
    app = create_app(settings.model_copy(update={"signup_min_response_s": floor}))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        for email in (user.email, new_email()):
            t0 = time.perf_counter()
            response = c.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
            assert response.status_code == 202
            assert floor <= time.perf_counter() - t0 < floor + 0.5


def test_concurrent_registrations_of_one_email_make_one_account(client: httpx.Client) -> None:
    email = new_email()

    def register(i: int) -> int:
        body = {"email": email, "password": f"{PASSWORD} {i}"}
        return client.post("/v1/auth/register", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(register, range(8)))
    assert statuses == [202] * 8
    users = list(db().collection("users").where(filter=firestore.FieldFilter("email", "==", email)).stream())
    assert len(users) == 1
    winners = [
        i
        for i in range(8)
        if client.post("/v1/auth/login", json={"email": email, "password": f"{PASSWORD} {i}"}).status_code
        == 200
    ]
    assert len(winners) == 1


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
    assert body["user"] == {"id": user.user_id, "email": user.email, "email_verified": True}
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
    assert_error(client.post("/v1/auth/refresh", json={}), 401, "refresh_token_missing")
    assert_error(client.post("/v1/auth/refresh", json={"refresh_token": ""}), 422, "invalid_request")


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
