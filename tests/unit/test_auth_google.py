"""Google ID-token verification against a locally served certificate in Google's v1 certs format."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest

from scripts.stack import free_port
from shared.auth.errors import GoogleSignInDisabled, InvalidToken
from shared.auth.google import GoogleVerifier
from shared.errors import UpstreamUnavailable
from shared.settings import Settings
from tests.fakes.google_certs import FakeGoogle

pytestmark = pytest.mark.anyio
CLIENT_ID = "unit-client.apps.googleusercontent.com"


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle(CLIENT_ID).serve() as fake:
        yield fake


@pytest.fixture
def verifier(google: FakeGoogle) -> GoogleVerifier:
    return GoogleVerifier(Settings(google_client_id=CLIENT_ID, google_certs_url=google.certs_url))


async def test_a_valid_token_gives_the_identity(google: FakeGoogle, verifier: GoogleVerifier) -> None:
    claims = google.claims()
    identity = await verifier.verify(google.sign(claims))
    assert identity.sub == claims["sub"]
    assert identity.email == claims["email"]


async def test_both_google_issuers_and_string_email_verified_pass(
    google: FakeGoogle, verifier: GoogleVerifier
) -> None:
    await verifier.verify(google.id_token(iss="accounts.google.com", email_verified="true"))


async def test_certs_are_fetched_once_per_max_age(google: FakeGoogle, verifier: GoogleVerifier) -> None:
    before = google.fetches
    for _ in range(3):
        await verifier.verify(google.id_token())
    assert google.fetches - before == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"aud": "another-client.apps.googleusercontent.com"}, "invalid_token"),
        ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "invalid_token"),
        ({"iss": "https://evil.example.com"}, "invalid_token"),
        ({"email_verified": False}, "email_not_verified"),
        ({"email_verified": None}, "email_not_verified"),
        ({"email": None}, "invalid_token"),
    ],
    ids=["wrong-aud", "expired", "wrong-iss", "unverified-email", "no-email-verified", "no-email"],
)
async def test_bad_claims_are_rejected(
    google: FakeGoogle, verifier: GoogleVerifier, overrides: dict[str, object], code: str
) -> None:
    claims = {k: v for k, v in google.claims(**overrides).items() if v is not None}
    with pytest.raises(InvalidToken) as err:
        await verifier.verify(google.sign(claims))
    assert err.value.code == code
    assert err.value.status == 401


async def test_another_key_with_the_same_kid_is_rejected(
    google: FakeGoogle, verifier: GoogleVerifier
) -> None:
    with pytest.raises(InvalidToken):
        await verifier.verify(google.sign(google.claims(), key=FakeGoogle.other_key()))


async def test_unknown_kid_is_rejected(google: FakeGoogle, verifier: GoogleVerifier) -> None:
    with pytest.raises(InvalidToken):
        await verifier.verify(google.sign(google.claims(), kid="unknown"))


async def test_hmac_and_none_algorithms_are_rejected(google: FakeGoogle, verifier: GoogleVerifier) -> None:
    # HS256 keyed with the public certificate: the classic algorithm-confusion forgery.
    header = {"kid": google.kid}
    with pytest.raises(InvalidToken):
        await verifier.verify(jwt.encode(google.claims(), google.certs[google.kid][:64], "HS256", header))
    unsigned = jwt.encode(google.claims(), None, algorithm="none", headers=header)
    with pytest.raises(InvalidToken):
        await verifier.verify(unsigned)


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30."])
async def test_garbage_is_rejected(verifier: GoogleVerifier, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier.verify(garbage)


async def test_disabled_without_a_client_id(google: FakeGoogle) -> None:
    verifier = GoogleVerifier(Settings(google_client_id=None, google_certs_url=google.certs_url))
    with pytest.raises(GoogleSignInDisabled):
        await verifier.verify(google.id_token())


async def test_unreachable_certs_are_a_503(google: FakeGoogle) -> None:
    url = f"http://127.0.0.1:{free_port()}/certs"
    verifier = GoogleVerifier(Settings(google_client_id=CLIENT_ID, google_certs_url=url))
    with pytest.raises(UpstreamUnavailable):
        await verifier.verify(google.id_token())
