"""Turn a started chat call (or an idempotent replay) into a JSON or SSE response.

Shared by /v1/chat/completions and /v1/threads/{id}/messages; a thread reply adds one
`thread.message.completed` event (and the stored message ids in JSON) once both messages are saved.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse, Response

from run_services.api.streaming import SSEResponse
from shared.bootstrap import Services
from shared.cache.exact import replay_chunks
from shared.chat import openai_format as fmt
from shared.chat.schemas import CallResult
from shared.chat.service import ChatCall, ChatStream, Replay


def route_headers(model: str, provider: str, reason: str | None) -> dict[str, str]:
    """Which model and provider served the call (a fallback may have), and why `auto` chose it."""
    headers = {"X-Model": model, "X-Provider": provider}
    if reason:
        headers["X-Route-Reason"] = reason
    return headers


def result_headers(result: CallResult, replayed: bool = False) -> dict[str, str]:
    headers = {
        **route_headers(result.model, result.provider, result.route_reason),
        "X-Credits-Charged": str(result.credits),
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


def _json(result: CallResult, thread: bool, legacy: bool = False) -> dict[str, Any]:
    body = fmt.completion_body(result, legacy)
    return {**body, **result.extra} if thread else body


def _thread_event(result: CallResult | None, thread: bool) -> list[bytes]:
    if thread and result is not None and result.extra:
        return [fmt.sse({"object": "thread.message.completed", **result.extra})]
    return []


async def _live(
    call: ChatCall, stream: ChatStream, include_usage: bool, thread: bool, legacy: bool = False
) -> AsyncIterator[bytes]:
    cid, created, model = call.id, call.asked.created, call.serving.spec.id
    yield fmt.chunk(cid, created, model, {"role": "assistant", "content": ""})
    # Closed with this generator (a client that left or stalled): the call settles before the response ends.
    async with contextlib.aclosing(stream.deltas()) as deltas:
        async for delta in deltas:
            if delta.text or delta.logprobs:
                yield fmt.chunk(cid, created, model, {"content": delta.text}, logprobs=delta.logprobs)
            if delta.tool_calls:  # forwarded as they come: the client assembles them as it would OpenAI's
                yield fmt.chunk(cid, created, model, fmt.tool_delta(delta.tool_calls, legacy))
    result = stream.result
    if stream.error is not None:
        yield fmt.error_event(stream.error.body()["error"], result)
    elif result is not None:
        yield _with_provider(fmt.finish_chunk(result, include_usage, legacy), result.provider)
    if include_usage and result is not None:
        yield _with_provider(fmt.usage_chunk(result), result.provider)
    for event in _thread_event(result, thread):
        yield event
    yield fmt.DONE


def _with_provider(event: bytes, provider: str) -> bytes:
    """The final chunk (and the usage chunk) also say which provider served the stream."""
    payload = json.loads(event.removeprefix(b"data: "))
    return fmt.sse({**payload, "provider": provider})


def _final_with_provider(event: bytes, provider: str) -> bytes:
    """A replayed stream's finish and usage chunks get the provider too."""
    if event == fmt.DONE:
        return event
    payload = json.loads(event.removeprefix(b"data: "))
    choices = payload.get("choices")
    if "usage" in payload or (choices and choices[0].get("finish_reason")):
        return fmt.sse({**payload, "provider": provider})
    return event


async def _replay(
    result: CallResult,
    include_usage: bool,
    thread: bool,
    pieces: list[str] | None = None,
    legacy: bool = False,
) -> AsyncIterator[bytes]:
    chunks = fmt.replay_chunks(result, include_usage, pieces, legacy)
    parts = [_final_with_provider(p, result.provider) for p in chunks]
    for part in parts[:-1] + _thread_event(result, thread) + parts[-1:]:
        yield part


async def respond(
    services: Services,
    started: ChatCall | Replay,
    *,
    stream: bool,
    include_usage: bool,
    thread: bool = False,
    legacy: bool = False,
) -> Response:
    """`legacy`: the request used `functions`, so calls go back as `function_call`."""
    if isinstance(started, Replay):
        return _stored(started, stream, include_usage, thread, legacy, services.settings.stream_stall_s)
    cache = {"X-Cache": started.asked.cache_plan.status}
    if not stream:
        result = await services.chat.complete(started)
        return JSONResponse(_json(result, thread, legacy), headers={**result_headers(result), **cache})
    live = await services.chat.open_stream(started)
    # The first token is in, so the serving model and provider are known before the headers go.
    serving = started.serving
    headers = route_headers(serving.spec.id, serving.provider.name, started.asked.route_reason)
    return SSEResponse(
        _live(started, live, include_usage, thread, legacy),
        headers={**headers, **cache},
        stall_s=services.settings.stream_stall_s,
        on_stall=live.client_stalled,
        on_close=live.close,  # settles a stream whose body was never read
    )


def _stored(
    started: Replay, stream: bool, include_usage: bool, thread: bool, legacy: bool, stall_s: float
) -> Response:
    """An idempotent replay, or a response-cache hit (streamed back word by word)."""
    result = started.result
    pieces: list[str] | None = None
    if started.cache_match is None:
        headers = result_headers(result, replayed=True)
    else:
        age = max(0, int(time.time()) - (started.cache_created or result.created))
        headers = {
            **result_headers(result),
            "X-Cache": "hit",
            "X-Cache-Match": started.cache_match,
            "Age": str(age),
        }
        pieces = replay_chunks(result.content)
    if stream:
        return SSEResponse(
            _replay(result, include_usage, thread, pieces, legacy), headers=headers, stall_s=stall_s
        )
    return JSONResponse(_json(result, thread, legacy), headers=headers)
