"""Access tokens: what verifies, and every way a forged or stale token must not."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from pydantic import SecretStr

from shared.adapters.secrets import EnvSecrets
from shared.auth.errors import InvalidToken, TokenExpired
from shared.auth.tokens import AccessTokens, digest, new_api_key, new_refresh_token, signing_secret
from shared.settings import Settings

SECRET = "s" * 64
ISS, AUD = "ai-backend", "ai-backend-api"


@pytest.fixture
def tokens() -> AccessTokens:
    return AccessTokens(SECRET, ISS, AUD, ttl_s=900)


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": ISS,
        "aud": AUD,
        "sub": "u1",
        "iat": now,
        "exp": now + 60,
        "typ": "access",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_issued_token_verifies(tokens: AccessTokens) -> None:
    issued = tokens.issue("user-1")
    assert issued.expires_in == 900
    assert tokens.verify(issued.token) == "user-1"
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "HS256"
    payload = jwt.decode(issued.token, options={"verify_signature": False})
    assert {"iss", "aud", "sub", "iat", "exp", "jti", "typ"} <= payload.keys()


def test_alg_none_is_rejected(tokens: AccessTokens) -> None:
    forged = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    with pytest.raises(InvalidToken) as err:
        tokens.verify(forged)
    assert err.value.code == "invalid_token"


def test_other_hmac_algorithm_with_the_same_secret_is_rejected(tokens: AccessTokens) -> None:
    with pytest.raises(InvalidToken):
        tokens.verify(jwt.encode(claims(), SECRET, algorithm="HS512"))


@pytest.mark.parametrize(
    ("secret", "overrides"),
    [
        ("w" * 48, {}),
        (SECRET, {"aud": "someone-else"}),
        (SECRET, {"iss": "evil"}),
        (SECRET, {"exp": None}),
        (SECRET, {"iat": None}),
        (SECRET, {"sub": None}),
        (SECRET, {"typ": "refresh"}),
        (SECRET, {"nbf": 10**10}),  # valid from the year 2286: never "now", however long the suite runs
    ],
    ids=[
        "wrong-secret",
        "wrong-aud",
        "wrong-iss",
        "no-exp",
        "no-iat",
        "no-sub",
        "wrong-typ",
        "not-yet-valid",
    ],
)
def test_forged_or_incomplete_tokens_are_rejected(
    tokens: AccessTokens, secret: str, overrides: dict[str, object]
) -> None:
    with pytest.raises(InvalidToken) as err:
        tokens.verify(jwt.encode(claims(**overrides), secret, algorithm="HS256"))
    assert err.value.code == "invalid_token"
    assert err.value.status == 401


def test_expired_token_says_so(tokens: AccessTokens) -> None:
    old = int(time.time()) - 3600
    with pytest.raises(TokenExpired) as err:
        tokens.verify(jwt.encode(claims(iat=old, exp=old + 60), SECRET, algorithm="HS256"))
    assert err.value.code == "token_expired"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "sk-not-a-jwt", "Bearer x.y.z"])
def test_garbage_is_rejected(tokens: AccessTokens, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.verify(garbage)


def test_opaque_secrets_are_random_and_hashed() -> None:
    assert new_refresh_token() != new_refresh_token()
    key = new_api_key()
    assert key.startswith("sk-")
    assert len(key) > 40
    assert digest(key) == digest(key)
    assert key not in digest(key)


def test_production_needs_a_long_secret() -> None:
    with pytest.raises(RuntimeError):
        signing_secret(Settings(environment="production"), EnvSecrets({}))
    with pytest.raises(RuntimeError):
        signing_secret(Settings(environment="production", jwt_secret=SecretStr("short")), EnvSecrets({}))
    long = "x" * 40
    assert signing_secret(Settings(environment="production"), EnvSecrets({"JWT_SECRET": long})) == long


def test_local_without_a_secret_gets_a_random_one() -> None:
    first = signing_secret(Settings(environment="local"), EnvSecrets({}))
    second = signing_secret(Settings(environment="local"), EnvSecrets({}))
    assert first != second
    assert len(first) >= 32
