"""The worker's OIDC check (shared/adapters/oidc.py) against ID tokens signed by a local stand-in for
Google."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.adapters.oidc import InvalidCaller, OidcVerifier
from tests.fakes.google_certs import FakeGoogle

AUDIENCE = "https://jobs-worker-abc-uc.a.run.app/"
TASKS_SA = "tasks@demo-project.iam.gserviceaccount.com"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle(AUDIENCE).serve() as fake:
        yield fake


def verifier(google: FakeGoogle, service_account: str | None = TASKS_SA) -> OidcVerifier:
    return OidcVerifier(AUDIENCE, service_account, google.certs_url)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_a_token_for_the_tasks_account_and_our_audience_passes(google: FakeGoogle) -> None:
    claims = verifier(google).verify(bearer(google.id_token(email=TASKS_SA)))
    assert claims is not None and claims["email"] == TASKS_SA


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://someone-else.example/"},
        {"email": "intruder@other-project.iam.gserviceaccount.com"},
        {"email": TASKS_SA, "email_verified": False},
        {"email": TASKS_SA, "iss": "https://evil.example"},
        {"email": TASKS_SA, "exp": 1_000_000_000, "iat": 999_999_000},
    ],
)
def test_wrong_tokens_are_refused(google: FakeGoogle, overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidCaller) as caught:
        verifier(google).verify(bearer(google.id_token(**overrides)))
    assert caught.value.status == 401


def test_a_token_signed_by_another_key_is_refused(google: FakeGoogle) -> None:
    forged = google.sign(google.claims(email=TASKS_SA), key=FakeGoogle.other_key())
    with pytest.raises(InvalidCaller):
        verifier(google).verify(bearer(forged))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer "])
def test_a_missing_token_is_refused(google: FakeGoogle, header: str | None) -> None:
    with pytest.raises(InvalidCaller):
        verifier(google).verify(header)


def test_without_an_audience_nothing_is_checked() -> None:
    off = OidcVerifier(None)
    assert not off.enabled
    assert off.verify(None) is None and off.verify("Bearer whatever") is None


def test_any_account_passes_when_none_is_configured(google: FakeGoogle) -> None:
    token = google.id_token(email="someone@demo-project.iam.gserviceaccount.com")
    assert verifier(google, service_account=None).verify(bearer(token)) is not None
