"""How litellm 1.106.2 delivers provider statuses and headers, driven against a local HTTP server, and
how classify() reads them."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm

from shared.gateway.retry import classify
from tests.support.gateway import translated

litellm.suppress_debug_info = True


# --- litellm against a real HTTP server: the statuses and headers as litellm 1.106.2 delivers them ---


async def _cut_stream() -> AsyncIterator[str]:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "model-cut",
        "choices": [{"index": 0, "delta": {"content": "hello"}, "finish_reason": None}],
    }
    yield f"data: {json.dumps(chunk)}\n\n"
    raise ConnectionResetError("scripted cut")


async def _scripted(request: Request) -> Response:
    body = await request.json()
    if body["model"] == "model-cut":
        return StreamingResponse(_cut_stream(), media_type="text/event-stream")
    status = int(str(body["model"]).rsplit("-", 1)[1])
    headers = {"retry-after": "3"} if status in (429, 503) else {}
    if status == 429:
        headers["retry-after-ms"] = "2500"
    if status == 529:
        return JSONResponse(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            status_code=529,
            headers={"retry-after": "6"},
        )
    return JSONResponse({"error": {"message": f"scripted {status}", "type": "x"}}, status, headers=headers)


@pytest.fixture(scope="module")
def scripted_provider() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", _scripted, methods=["POST"]),
            Route("/v1/messages", _scripted, methods=["POST"]),
        ]
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "scripted provider did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("provider", "status", "retryable", "kind", "retry_after"),
    [
        ("anthropic", 529, True, "overloaded", 6.0),
        ("openai", 529, True, "overloaded", 6.0),
        ("openai", 429, True, "rate_limited", 2.5),
        ("anthropic", 429, True, "rate_limited", 2.5),
        ("openai", 503, True, "unavailable", 3.0),
        ("openai", 500, True, "server_error", None),
        ("anthropic", 502, True, "server_error", None),
        ("openai", 504, True, "timeout", None),
        ("openai", 400, False, "client_error", None),
        ("anthropic", 401, False, "auth", None),
        ("openai", 403, False, "auth", None),
        ("anthropic", 404, False, "client_error", None),
    ],
)
async def test_litellm_exceptions_from_real_responses(
    scripted_provider: str, provider: str, status: int, retryable: bool, kind: str, retry_after: float | None
) -> None:
    args: dict[str, Any] = {
        "messages": [{"role": "user", "content": "hi"}],
        "api_key": "test-key",
        "max_retries": 0,
        "num_retries": 0,
        "timeout": 10,
    }
    if provider == "anthropic":
        args.update(model=f"anthropic/claude-test-{status}", api_base=scripted_provider)
    else:
        args.update(model=f"openai/model-{status}", api_base=f"{scripted_provider}/v1")
    with pytest.raises(openai.OpenAIError) as caught:  # every litellm exception is one
        await litellm.acompletion(**args)
    failure = classify(caught.value)
    assert (failure.retryable, failure.kind, failure.retry_after) == (retryable, kind, retry_after)
    assert classify(translated(caught.value)) == failure  # the same through our typed error


@pytest.mark.anyio
async def test_a_stream_cut_after_its_first_chunk_is_a_retryable_provider_fault(
    scripted_provider: str,
) -> None:
    stream = await litellm.acompletion(
        model="openai/model-cut",
        api_base=f"{scripted_provider}/v1",
        api_key="test-key",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        max_retries=0,
        num_retries=0,
        timeout=10,
    )
    texts: list[str] = []

    async def drain() -> None:
        async for chunk in stream:
            texts.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.OpenAIError) as caught:
        await drain()
    assert "hello" in texts
    failure = classify(caught.value)
    assert failure.retryable
    assert failure.provider_fault
