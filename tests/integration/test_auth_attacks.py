"""Forged, stale and malformed credentials: every one is a 401 in the error shape, and nothing changes."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest

from shared.settings import Settings
from tests.support.helpers import User, assert_error


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(settings: Settings, user: User, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user.user_id,
        "iat": now,
        "exp": now + 600,
        "typ": "access",
    }
    return base | overrides


def secret(settings: Settings) -> str:
    assert settings.jwt_secret is not None
    return settings.jwt_secret.get_secret_value()


def forged(kind: str, settings: Settings, user: User) -> str:
    """A token for the real user that would be accepted but for one defect."""
    old = int(time.time()) - 3600
    match kind:
        case "alg-none":
            return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(settings, user))}."
        case "wrong-secret":
            return jwt.encode(claims(settings, user), "another-secret-" + "x" * 40, algorithm="HS256")
        case "wrong-audience":
            return jwt.encode(claims(settings, user, aud="other-api"), secret(settings), algorithm="HS256")
        case "wrong-issuer":
            return jwt.encode(claims(settings, user, iss="evil"), secret(settings), algorithm="HS256")
        case "expired":
            return jwt.encode(
                claims(settings, user, iat=old, exp=old + 60), secret(settings), algorithm="HS256"
            )
        case "tampered-sub":
            head, _, sig = user.access_token.split(".")
            return f"{head}.{b64(claims(settings, user, sub='someone-else'))}.{sig}"
    raise AssertionError(kind)


def key_count(client: httpx.Client, user: User) -> int:
    response = client.get("/v1/api-keys", headers=user.headers)
    assert response.status_code == 200, response.text
    return len(response.json()["data"])


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("alg-none", "invalid_token"),
        ("wrong-secret", "invalid_token"),
        ("wrong-audience", "invalid_token"),
        ("wrong-issuer", "invalid_token"),
        ("expired", "token_expired"),
        ("tampered-sub", "invalid_token"),
    ],
)
def test_forged_tokens_are_401_and_change_nothing(
    client: httpx.Client, settings: Settings, user: User, kind: str, code: str
) -> None:
    before = key_count(client, user)
    headers = {"Authorization": f"Bearer {forged(kind, settings, user)}"}
    assert_error(client.get("/v1/api-keys", headers=headers), 401, code)
    response = client.post("/v1/api-keys", json={"name": "should not exist"}, headers=headers)
    assert_error(response, 401, code)
    assert "WWW-Authenticate" in response.headers
    assert key_count(client, user) == before


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer a b",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer not.a.jwt",
        "Bearer a.b",
        "Bearer sk-",
        "Bearer sk-short",
        "Bearerabc",
    ],
)
def test_malformed_authorization_headers_are_401(client: httpx.Client, user: User, header: str) -> None:
    before = key_count(client, user)
    response = client.post("/v1/api-keys", json={}, headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert set(response.json()["error"]) == {"type", "code", "message"}
    assert key_count(client, user) == before


def test_the_real_token_still_works(client: httpx.Client, user: User) -> None:
    assert key_count(client, user) == 0
