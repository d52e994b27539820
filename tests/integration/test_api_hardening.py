"""Issue 11, items 8 and 12 against the running API: a chunked body past the limit is refused as it
arrives, one message cannot be arbitrarily long, a huge prompt does not stall other requests, every
response carries the security headers, and a provider's own error text never reaches the client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.catalog.catalog import ModelSpec
from shared.gateway.gateway import Gateway
from shared.settings import Settings
from tests.fakes.provider import FakeProvider, Fault
from tests.support.helpers import User, assert_error, rid

PROVIDER_SECRET = "org-4f9a internal shard eu-7 rejected: key sk-live-LEAKED"


def _chunks(total: int, sent: list[int], size: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON-looking body of `total` bytes, sent chunked (no Content-Length)."""
    yield b'{"email": "a@example.com", "password": "'
    while sent[0] < total:
        sent[0] += size
        yield b"x" * size
    yield b'"}'


def test_a_chunked_body_past_the_limit_is_refused_with_413(client: httpx.Client, settings: Settings) -> None:
    sent = [0]
    response = client.post(
        "/v1/auth/login",
        content=_chunks(2 * settings.max_request_bytes, sent),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, "request_too_large")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_chunked_body_within_the_limit_still_reaches_the_route(client: httpx.Client) -> None:
    body = [b'{"email": "nobody@example.com", ', b'"password": "wrong password here"}']
    response = client.post("/v1/auth/login", content=iter(body), headers={"content-type": "application/json"})
    assert response.status_code == 401, response.text


def test_a_chunked_chat_body_past_the_limit_is_refused_before_the_route(
    client: httpx.Client, user: User, settings: Settings, fake_provider: FakeProvider
) -> None:
    calls = len(fake_provider.calls)
    response = client.post(
        "/v1/chat/completions",
        content=_chunks(settings.max_chat_request_bytes + 256 * 1024, [0]),
        headers={**user.headers, **rid(), "content-type": "application/json"},
    )
    assert_error(response, 413, "request_too_large")
    assert str(settings.max_chat_request_bytes) in response.json()["error"]["message"]
    assert len(fake_provider.calls) == calls


def test_a_message_longer_than_the_cap_is_refused_with_400(
    client: httpx.Client, user: User, settings: Settings, fake_provider: FakeProvider
) -> None:
    calls = len(fake_provider.calls)
    too_long = "a" * (settings.max_message_chars + 1)
    response = client.post(
        "/v1/chat/completions",
        json={"model": "fake-echo", "messages": [{"role": "user", "content": too_long}]},
        headers={**user.headers, **rid()},
    )
    assert_error(response, 400, "message_too_long")
    assert str(settings.max_message_chars) in response.json()["error"]["message"]
    parts = [{"type": "text", "text": "a" * (settings.max_message_chars // 2 + 1)}] * 2
    response = client.post(
        "/v1/chat/completions",
        json={"model": "fake-echo", "messages": [{"role": "user", "content": parts}]},
        headers={**user.headers, **rid()},
    )
    assert_error(response, 400, "message_too_long")
    assert len(fake_provider.calls) == calls


def test_a_slow_token_count_does_not_stall_other_requests(
    client: httpx.Client, user: User, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting a big prompt's tokens is made to take a second (the API runs in this process); a trivial
    request sent meanwhile still answers at once, because the count runs in a worker thread."""
    real = Gateway.count_prompt

    def slow(
        self: Gateway,
        spec: ModelSpec,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
    ) -> int:
        time.sleep(1.0)  # blocks whichever thread runs it, as a long tokenization would
        return real(self, spec, messages, tools)

    monkeypatch.setattr(Gateway, "count_prompt", slow)
    messages = [{"role": "user", "content": "alpha " * 5000}]
    waits: list[float] = []
    answers: list[httpx.Response] = []

    def huge() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=60) as other:
            response = other.post(
                "/v1/chat/completions",
                json={"model": "fake-echo", "max_tokens": 1, "messages": messages},
                headers={**user.headers, **rid()},
            )
            answers.append(response)

    thread = threading.Thread(target=huge)
    thread.start()
    time.sleep(0.3)  # the big request is being counted now
    for _ in range(5):
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        waits.append(time.perf_counter() - started)
    thread.join()
    assert [a.status_code for a in answers] == [200], answers[0].text if answers else "no answer"
    assert max(waits) < 0.4, f"a trivial request waited {max(waits):.3f}s behind the token count"


def test_security_headers_on_every_response(client: httpx.Client, user: User) -> None:
    for response in (
        client.get("/healthz"),
        client.get("/v1/models", headers=user.headers),
        client.get("/v1/nowhere"),
        client.get("/v1/credits"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["referrer-policy"] == "no-referrer", response.url
        assert "strict-transport-security" not in response.headers  # a test environment is local


def test_responses_carrying_tokens_or_keys_are_not_stored(client: httpx.Client, user: User) -> None:
    login = client.post("/v1/auth/login", json={"email": user.email, "password": user.password})
    assert login.status_code == 200, login.text
    assert login.headers["cache-control"] == "no-store"
    refresh = client.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refresh.headers["cache-control"] == "no-store"
    created = client.post("/v1/api-keys", json={"name": "ci"}, headers=user.headers)
    assert created.status_code in (200, 201), created.text
    assert created.headers["cache-control"] == "no-store"
    assert client.get("/v1/api-keys", headers=user.headers).headers["cache-control"] == "no-store"


def test_docs_are_served_outside_production(client: httpx.Client) -> None:
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


@pytest.fixture
def faults(fake_provider: FakeProvider) -> Iterator[FakeProvider]:
    fake_provider.reset()
    yield fake_provider
    fake_provider.reset()


def test_a_providers_error_text_is_not_returned(
    client: httpx.Client, user: User, faults: FakeProvider
) -> None:
    body = {"error": {"message": PROVIDER_SECRET, "type": "invalid_request_error"}}
    faults.program("fake-echo", Fault.http(400, body=body))
    response = client.post(
        "/v1/chat/completions",
        json={"model": "fake-echo", "messages": [{"role": "user", "content": "hi"}]},
        headers={**user.headers, **rid()},
    )
    assert_error(response, 400, "provider_rejected_request")
    assert "sk-live" not in response.text and "org-4f9a" not in response.text
    assert "fake" in response.json()["error"]["message"]  # it still names the provider


def test_a_providers_error_text_is_not_returned_in_a_stream(
    client: httpx.Client, user: User, faults: FakeProvider
) -> None:
    body = {"error": {"message": PROVIDER_SECRET, "type": "invalid_request_error"}}
    faults.program("fake-echo", Fault.http(400, body=body))
    response = client.post(
        "/v1/chat/completions",
        json={"model": "fake-echo", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        headers={**user.headers, **rid()},
    )
    assert response.status_code == 400, response.text
    assert "sk-live" not in response.text and "org-4f9a" not in response.text
