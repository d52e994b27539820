"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API (Claude Code, the Anthropic
SDKs) in front of the same chat service as /v1/chat/completions.

The request is translated into a chat completions request (shared/protocols/anthropic_request.py) and
goes through the chat door's own path (run_services/api/chat_start.py): same checks, hold, router,
fallbacks, limits, budgets, workspaces and usage records (`api: "messages"`). The answer goes back in
Anthropic's shape (shared/protocols/anthropic_response.py); errors on these paths take Anthropic's
error shape (run_services/api/errors.py). `anthropic-version` and `anthropic-beta` headers are accepted
and ignored: nothing we serve depends on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from run_services.api.chat_responses import result_headers, route_headers
from run_services.api.chat_start import ChatHeaders, Checked, start_chat
from run_services.api.deps import RateLimitDep, ServicesDep, Spender
from run_services.api.streaming import SSEResponse
from shared.bootstrap import Services
from shared.chat import openai_format as fmt
from shared.chat.schemas import CallResult, ChatCompletionRequest
from shared.chat.service import ChatCall, ChatStream, Replay, count_off_loop
from shared.chat.tools import whole_deltas
from shared.errors import BadRequest
from shared.plans.offers import ensure_model_allowed
from shared.protocols import anthropic_response as anthropic
from shared.protocols.anthropic_request import MessagesRequest

router = APIRouter(tags=["messages"])

DOOR = "messages"


class CountTokensRequest(MessagesRequest):
    """`POST /v1/messages/count_tokens`: a Messages request without `max_tokens` (nothing is generated)."""

    max_tokens: int | None = Field(None, ge=1)  # type: ignore[assignment]


class TokenCount(BaseModel):
    input_tokens: int


def as_chat(request: MessagesRequest) -> ChatCompletionRequest:
    """The Messages request as the chat door's request; what that door would refuse is a 400 here."""
    try:
        return ChatCompletionRequest.model_validate(request.to_chat())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadRequest(f"{where or 'body'}: {first.get('msg')}", code="invalid_request") from None


@router.post("/v1/messages", response_model=None)
async def messages(
    body: MessagesRequest,
    request: Request,
    principal: Spender,
    services: ServicesDep,
    limits: RateLimitDep,
    headers: ChatHeaders,
) -> Response:
    chat = as_chat(body)

    async def answer(started: ChatCall | Replay, checked: Checked) -> Response:
        return await respond(services, started, stream=chat.stream)

    response = await start_chat(
        chat,
        request,
        principal,
        services,
        answer,
        headers,
        door=DOOR,
    )
    response.headers.update(limits.headers())
    return response


@router.post("/v1/messages/count_tokens", response_model=TokenCount)
async def count_tokens(
    body: CountTokensRequest, principal: Spender, services: ServicesDep, limits: RateLimitDep
) -> JSONResponse:
    """The prompt's tokens (tool definitions included) as the gateway counts them for the resolved model
    when it admits a call: nothing is reserved or charged."""
    chat = as_chat(body)
    chat.check_sizes(services.settings.max_message_chars)
    chat.check_supported()
    tool_defs = chat.tool_options().params().get("tools")
    messages = chat.wire_messages()
    spec, _ = services.chat.catalog.resolve(chat.model)
    ensure_model_allowed(services.chat.plans.get(principal.plan), spec.id)
    tokens = await count_off_loop(
        messages, partial(services.chat.gateway.count_prompt, spec, messages, tool_defs)
    )
    return JSONResponse({"input_tokens": tokens}, headers=limits.headers())


async def respond(services: Services, started: ChatCall | Replay, *, stream: bool) -> Response:
    """A started call (or a stored answer) as Anthropic's message, or its event stream."""
    if isinstance(started, Replay):
        return _stored(started, stream, services.settings.stream_stall_s)
    cache = {"X-Cache": started.asked.cache_plan.status}
    if not stream:
        result = await services.chat.complete(started)
        return JSONResponse(_message(result), headers={**result_headers(result), **cache})
    live = await services.chat.open_stream(started)
    serving = started.serving  # the first token is in: the serving model is known before the headers
    headers = route_headers(serving.spec.id, serving.provider.name, started.asked.route_reason)
    return SSEResponse(
        _live(started, live),
        headers={**headers, **cache},
        stall_s=services.settings.stream_stall_s,
        on_stall=live.client_stalled,
        on_close=live.close,  # settles a stream whose body was never read
    )


def _message(result: CallResult) -> dict[str, Any]:
    return anthropic.message(fmt.completion_body(result))


async def _live(call: ChatCall, stream: ChatStream) -> AsyncIterator[bytes]:
    """Anthropic's events from the chat stream's deltas (in OpenAI's delta shape, as the chat door
    sends them: a tool call's id and name on its first fragment), then the finish or the error."""
    events = anthropic.MessageEvents(call.id, call.serving.spec.id, call.serving.input_tokens)
    for part in events.start():
        yield part
    async with contextlib.aclosing(stream.deltas()) as deltas:  # a cut stream settles as it closes
        async for delta in deltas:
            wire: dict[str, Any] = {"content": delta.text}
            if delta.tool_calls:
                wire.update(fmt.tool_delta(delta.tool_calls))
            for part in events.delta(wire):
                yield part
    result = stream.result
    if stream.error is not None:
        error = stream.error
        tail = events.error(anthropic.error_status(error.status, error.code), error.message)
    elif result is not None:
        tail = events.finish(result.finish_reason, result.output_tokens, result.credits, result.input_tokens)
    else:  # pragma: no cover - a stream always settles before its deltas end
        tail = []
    for part in tail:
        yield part


async def _replayed(result: CallResult) -> AsyncIterator[bytes]:
    """A stored result as a stream: its text in one delta, each tool call whole in one."""
    events = anthropic.MessageEvents(result.id, result.model, result.input_tokens)
    parts = events.start() + events.delta({"content": result.content})
    if result.tool_calls:
        parts += events.delta({"tool_calls": whole_deltas(result.tool_calls)})
    if result.error:  # a stream cut after some output (only answers that produced something are stored)
        status = anthropic.error_status(503, result.error["code"])
        parts += events.error(status, result.error["message"])
    else:
        parts += events.finish(result.finish_reason, result.output_tokens, result.credits)
    for part in parts:
        yield part


def _stored(started: Replay, stream: bool, stall_s: float) -> Response:
    """An idempotent replay (`Idempotent-Replayed: true`) or a response-cache hit."""
    result = started.result
    headers = result_headers(result, replayed=started.cache_match is None)
    if started.cache_match is not None:
        headers.update({"X-Cache": "hit", "X-Cache-Match": started.cache_match})
    if stream:
        return SSEResponse(_replayed(result), headers=headers, stall_s=stall_s)
    return JSONResponse(_message(result), headers=headers)
