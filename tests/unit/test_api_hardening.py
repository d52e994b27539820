"""Issue 11, items 8 and 12 without a server: the body limit stops reading at the limit, production hides
the docs and sends HSTS, big prompts are counted in a worker thread, and provider text stays in the logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx
import pytest
from litellm import exceptions as lx
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from run_services.api.main import create_app
from run_services.api.middleware import RequestContextMiddleware
from shared.chat import service as chat_service
from shared.gateway.errors import translate
from shared.settings import Settings

SECRET = "org-4f9a shard eu-7 key sk-live-LEAKED"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _scope(headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": "POST", "path": "/v1/anything", "headers": headers or []}


@pytest.mark.anyio
async def test_the_limit_stops_reading_a_chunked_body_at_the_limit() -> None:
    reads = 0
    reached: list[bytes] = []

    async def endless() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": reads < 50}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        reached.append(body)  # never: the limit is passed first

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await RequestContextMiddleware(app, project="p", max_body=1000)(_scope(), endless, send)
    assert reads == 11  # the chunk that passed 1,000 bytes is the last one read
    assert reached == []
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "request_too_large"


@pytest.mark.anyio
async def test_a_route_that_swallows_the_refusal_still_answers_413() -> None:
    async def chunks() -> Message:
        return {"type": "http.request", "body": b"x" * 600, "more_body": True}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            for _ in range(5):
                await receive()
        except Exception:  # a careless route: turns every failure into a 400
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"bad"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await RequestContextMiddleware(app, project="p", max_body=1000)(_scope(), chunks, send)
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert b"bad" not in b"".join(m.get("body", b"") for m in sent)


def _prod(**extra: Any) -> Settings:
    return Settings(environment="production", jwt_secret="x" * 64, **extra)


def test_production_hides_the_docs_and_sends_hsts() -> None:
    client = TestClient(create_app(_prod()))  # no lifespan: these paths need no services
    for path in ("/docs", "/redoc", "/openapi.json"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_a_setting_turns_the_docs_on_in_production() -> None:
    client = TestClient(create_app(_prod(api_docs_enabled=True)))
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_local_runs_serve_the_docs_without_hsts() -> None:
    client = TestClient(create_app(Settings(environment="local")))
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.anyio
async def test_big_prompts_are_counted_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threaded: list[object] = []
    real = anyio.to_thread.run_sync

    async def spy(func: Any, *args: Any, **kwargs: Any) -> Any:
        threaded.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", spy)
    small = [{"role": "user", "content": "hello"}]
    big = [{"role": "user", "content": "a" * chat_service.OFF_LOOP_CHARS}, {"role": "user", "content": "b"}]
    assert await chat_service.count_off_loop(small, lambda: 1) == 1
    assert threaded == []
    assert await chat_service.count_off_loop(big, lambda: 2) == 2
    assert len(threaded) == 1
    parts = [{"role": "user", "content": [{"type": "text", "text": "a" * chat_service.OFF_LOOP_CHARS}] * 2}]
    assert await chat_service.count_off_loop(parts, lambda: 3) == 3
    assert len(threaded) == 2


def _bad_request() -> lx.BadRequestError:
    response = httpx.Response(400, request=httpx.Request("POST", "https://provider.example/v1"))
    return lx.BadRequestError(SECRET, model="m", llm_provider="openai", response=response)


def test_a_providers_error_text_is_logged_not_returned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.errors"):
        error = translate(_bad_request(), "openai")
    assert error.code == "provider_rejected_request" and error.status == 400
    assert "sk-live" not in json.dumps(error.body()) and "org-4f9a" not in error.message
    assert "openai" in error.message
    assert any(SECRET in str(getattr(r, "provider_error", "")) for r in caplog.records)
