"""Email verification end to end (issue 11, item 1): the API really sends its emails over SMTP to the mail
catcher the devstack started, and the tests read the link there and open it. Welcome credits only for a
verified address, once; an unverified account signs in, sees 0 and is told why; invitations need a
verified address (item 12)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from google.cloud import firestore

from shared.auth.limits import KNOWN_NOTICES_PER_HOUR
from shared.auth.verification import VerifyTokens
from shared.settings import Settings
from tests.conftest import TEST_JWT_SECRET
from tests.support.helpers import User, assert_error, db, grant_credits
from tests.support.mail import mails_to, verification_path, wait_for_mail
from tests.support.servers import ServerThread
from tests.support.workspaces import create, invite

PASSWORD = "correct horse battery staple"
RESENDS = 2


@pytest.fixture(scope="module")
def verify_settings(settings: Settings) -> Settings:
    assert settings.smtp_host, "SMTP_HOST is not set: run the tests through scripts.devstack"
    return settings.model_copy(
        update={
            "auth_auto_verify_email": False,  # what `make run` and production do
            "public_api_url": "http://api.example.test",
            "verify_resend_per_hour": RESENDS,
            "auth_rate_per_minute": 30,
        }
    )


@pytest.fixture(scope="module")
def verify_api(verify_settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    with ServerThread(create_app(verify_settings)) as server:
        yield server.url


@pytest.fixture
def vclient(verify_api: str) -> Iterator[httpx.Client]:
    """A client from an address of its own, so each test has the per-address limits to itself."""
    n = uuid.uuid4().int
    address = f"10.77.{n % 250}.{(n >> 8) % 250}"
    with httpx.Client(base_url=verify_api, timeout=30, headers={"X-Forwarded-For": address}) as c:
        yield c


def new_email() -> str:
    return f"v{uuid.uuid4().hex[:12]}@example.com"


def unverified(client: httpx.Client) -> User:
    email = new_email()
    registered = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 202, registered.text
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["user"]["email_verified"] is False
    return User(body["user"]["id"], email, PASSWORD, body["access_token"], body["refresh_token"])


def credits(client: httpx.Client, user: User) -> dict[str, object]:
    response = client.get("/v1/credits", headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def welcome_entries(client: httpx.Client, user: User) -> list[dict[str, object]]:
    entries = client.get("/v1/credits/ledger", headers=user.headers).json()["data"]
    return [e for e in entries if e["ref"] == f"welcome:{user.user_id}"]


def test_register_email_link_then_welcome_credits_once(
    vclient: httpx.Client, verify_settings: Settings
) -> None:
    user = unverified(vclient)
    # Signed in, no credits, and told why.
    before = credits(vclient, user)
    assert before["available"] == 0
    assert before["email_verified"] is False
    assert "verify your email" in str(before["notice"]).lower()
    me = vclient.get("/v1/me", headers=user.headers).json()
    assert me["email_verified"] is False
    assert me["welcome_credits_granted"] is False
    assert me["notice"] == before["notice"]

    path = verification_path(user.email)
    mail = wait_for_mail(user.email, "Verify your email")
    assert mail["links"][0].startswith("http://api.example.test/app/#/verify/ey")
    clicked = vclient.get(path)
    assert clicked.status_code == 200, clicked.text
    assert clicked.json()["status"] == "verified"
    after = credits(vclient, user)
    assert after["available"] == verify_settings.welcome_credits
    assert after["email_verified"] is True
    assert after["notice"] is None

    # A second click (or the mail scanner's) grants nothing more.
    again = vclient.get(path)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "already_verified"
    assert credits(vclient, user)["available"] == verify_settings.welcome_credits
    assert len(welcome_entries(vclient, user)) == 1
    # Signing in again does not grant twice either.
    login = vclient.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD}).json()
    assert login["user"]["email_verified"] is True
    assert credits(vclient, user)["available"] == verify_settings.welcome_credits


def test_concurrent_clicks_grant_once(vclient: httpx.Client, verify_settings: Settings) -> None:
    user = unverified(vclient)
    path = verification_path(user.email)
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: vclient.get(path).status_code, range(6)))
    assert statuses == [200] * 6
    assert credits(vclient, user)["available"] == verify_settings.welcome_credits
    assert len(welcome_entries(vclient, user)) == 1


def test_the_owner_of_a_known_address_gets_an_email_instead(vclient: httpx.Client) -> None:
    user = unverified(vclient)
    wait_for_mail(user.email, "Verify your email")
    again = vclient.post("/v1/auth/register", json={"email": user.email, "password": "some other password"})
    assert again.status_code == 202
    notice = wait_for_mail(user.email, "Someone tried to create an account")
    assert "sign in with your password" in notice["text"]
    assert notice["links"] == []  # nothing in it to verify or take over
    assert len([m for m in mails_to(user.email) if "Verify" in m["subject"]]) == 1
    # Nobody can flood an inbox through sign-up: a few such emails an hour, then the answer stays the
    # same but nothing more is sent.
    for _ in range(KNOWN_NOTICES_PER_HOUR + 2):
        body = {"email": user.email, "password": "some other password"}
        assert vclient.post("/v1/auth/register", json=body).status_code == 202
    wait_for_mail(user.email, "Someone tried", count=KNOWN_NOTICES_PER_HOUR)
    time.sleep(0.5)
    tried = [m for m in mails_to(user.email) if "Someone tried" in m["subject"]]
    assert len(tried) == KNOWN_NOTICES_PER_HOUR


def test_bad_links_are_400_and_change_nothing(vclient: httpx.Client, verify_settings: Settings) -> None:
    user = unverified(vclient)
    issuer = verify_settings.jwt_issuer
    ttl = verify_settings.email_verify_ttl_s
    now = dt.datetime.now(dt.UTC)
    ours = VerifyTokens(TEST_JWT_SECRET, issuer, ttl)
    bad = {
        "garbage": ("not-a-token", "invalid_verification_token"),
        "another key": (
            VerifyTokens("x" * 48, issuer, ttl).issue(user.user_id, user.email, now),
            "invalid_verification_token",
        ),
        "another address": (ours.issue(user.user_id, new_email(), now), "invalid_verification_token"),
        "no such user": (ours.issue(uuid.uuid4().hex, user.email, now), "invalid_verification_token"),
        "expired": (
            ours.issue(user.user_id, user.email, now - dt.timedelta(seconds=ttl + 60)),
            "verification_token_expired",
        ),
        "an access token": (user.access_token, "invalid_verification_token"),
    }
    for name, (token, code) in bad.items():
        response = vclient.get("/v1/auth/verify-email", params={"token": token})
        assert response.status_code == 400, (name, response.text)
        assert_error(response, 400, code)
    assert_error(vclient.get("/v1/auth/verify-email"), 422, "invalid_request")
    after = credits(vclient, user)
    assert after["available"] == 0
    assert after["email_verified"] is False
    assert (db().collection("users").document(user.user_id).get().to_dict() or {})["email_verified"] is False


def test_a_flood_of_links_is_429(vclient: httpx.Client, verify_settings: Settings) -> None:
    statuses = [
        vclient.get("/v1/auth/verify-email", params={"token": f"x{i}"}).status_code
        for i in range(verify_settings.auth_rate_per_minute + 1)
    ]
    assert statuses[:-1] == [400] * verify_settings.auth_rate_per_minute
    assert statuses[-1] == 429


def test_resend_sends_a_new_link_and_is_limited(vclient: httpx.Client, verify_settings: Settings) -> None:
    user = unverified(vclient)
    wait_for_mail(user.email, "Verify your email")
    for n in range(RESENDS):
        sent = vclient.post("/v1/auth/verify-email/resend", headers=user.headers)
        assert sent.status_code == 202, sent.text
        assert sent.json()["status"] == "verification_sent"
        wait_for_mail(user.email, "Verify your email", count=n + 2)
    flooded = vclient.post("/v1/auth/verify-email/resend", headers=user.headers)
    assert_error(flooded, 429, "too_many_verification_emails")
    assert 1 <= int(flooded.headers["Retry-After"]) <= 3600
    assert len([m for m in mails_to(user.email) if "Verify" in m["subject"]]) == RESENDS + 1

    # Any of the links works; then there is nothing to resend.
    assert vclient.get(verification_path(user.email)).json()["status"] == "verified"
    assert credits(vclient, user)["available"] == verify_settings.welcome_credits
    assert_error(
        vclient.post("/v1/auth/verify-email/resend", headers=user.headers), 409, "email_already_verified"
    )
    assert_error(vclient.post("/v1/auth/verify-email/resend"), 401, "missing_credentials")


def test_accepting_an_invitation_needs_a_verified_email(vclient: httpx.Client) -> None:
    owner, member = unverified(vclient), unverified(vclient)
    workspace = create(vclient, owner)
    sent = invite(vclient, owner, workspace["id"], member.email)
    assert sent.status_code == 201, sent.text
    token = sent.json()["token"]

    refused = vclient.post("/v1/workspaces/invitations/accept", json={"token": token}, headers=member.headers)
    assert_error(refused, 403, "email_not_verified")
    # Nothing changed: the invitation is still pending, the member is not in.
    pending = vclient.get(f"/v1/workspaces/{workspace['id']}/invitations", headers=owner.headers).json()
    assert [i["state"] for i in pending["data"]] == ["pending"]
    assert vclient.get(f"/v1/workspaces/{workspace['id']}", headers=member.headers).status_code == 404

    assert vclient.get(verification_path(member.email)).status_code == 200
    accepted = vclient.post(
        "/v1/workspaces/invitations/accept", json={"token": token}, headers=member.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert vclient.get(f"/v1/workspaces/{workspace['id']}", headers=member.headers).status_code == 200


def test_accounts_from_before_verification_keep_their_credits(
    vclient: httpx.Client, verify_settings: Settings
) -> None:
    """An account created before this change has no email_verified field and already got its welcome
    credits: it signs in and keeps them, and is not nagged about credits it already has."""
    user = unverified(vclient)
    ref = db().collection("users").document(user.user_id)
    ref.update({"email_verified": firestore.DELETE_FIELD, "email_verified_at": firestore.DELETE_FIELD})
    grant_credits(verify_settings, user.user_id, 123)
    ref.update({"welcome_granted": True})
    login = vclient.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = credits(vclient, user)
    assert body["available"] == 123
    assert body["email_verified"] is False
    assert body["notice"] is None
