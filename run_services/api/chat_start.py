"""One path from a chat completions request body to a response, for every door that speaks in front of
the chat service (/v1/chat/completions, /v1/messages, /v1/responses): the same checks, admission, hold,
router, fallbacks, limits and usage records, so a call costs the same whichever door it came through.

A door translates its own request into a `ChatCompletionRequest` and hands `start_chat` a `Responder`
that turns the started call (or an idempotent replay / cache hit) into its own wire format.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Request
from fastapi.responses import Response, StreamingResponse

from run_services.api.deps import request_id
from run_services.api.streaming import WatchedStreamingResponse
from shared.assistants.apply import function_tools
from shared.assistants.schemas import Assistant
from shared.auth.schemas import Principal
from shared.bootstrap import Services
from shared.cache.keys import CacheDirectives, opted_in
from shared.chat.content import ContentLimits, inspect
from shared.chat.idempotency import fingerprint
from shared.chat.params import check_params
from shared.chat.schemas import ChatCompletionRequest, ChatMessage
from shared.chat.service import ChatCall, Replay
from shared.chat.tools import ToolDef
from shared.knowledge.retrieval import Retrieval, Retriever, query_of
from shared.limits.concurrency import released_after


@dataclass(frozen=True)
class Checked:
    """What the checks learned that a door needs to answer: the legacy `functions` form (answer with
    `function_call`) and whether the client asked for the separate usage chunk."""

    legacy: bool
    include_usage: bool


@dataclass(frozen=True)
class DoorHeaders:
    """The request headers every chat door reads: `Idempotency-Key` (a retry answers the first call's
    result, charged once), and the response cache's `Cache-Control` and `X-Cache` opt-in."""

    idempotency_key: str | None
    cache_control: str | None
    x_cache: str | None


def door_headers(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    cache_control: Annotated[str | None, Header(alias="Cache-Control")] = None,
    x_cache: Annotated[str | None, Header(alias="X-Cache")] = None,
) -> DoorHeaders:
    return DoorHeaders(idempotency_key, cache_control, x_cache)


ChatHeaders = Annotated[DoorHeaders, Depends(door_headers)]


# Turns the started call into the door's response (JSON, or a stream that settles as it ends).
Responder = Callable[[ChatCall | Replay, Checked], Awaitable[Response]]


def answer_as(body: ChatCompletionRequest, assistant: Assistant) -> None:
    """The request as the assistant answers it (shared/assistants/apply.py): its instructions first, its
    model, sampling and function tools where the request sets none."""
    if body.model is None:
        body.model = assistant.model
    if assistant.instructions:
        body.messages.insert(0, ChatMessage(role="system", content=assistant.instructions))
    body.temperature = body.temperature if body.temperature is not None else assistant.temperature
    body.top_p = body.top_p if body.top_p is not None else assistant.top_p
    offered = function_tools(assistant)
    if body.tools is None and body.functions is None and offered:
        body.tools = [ToolDef.model_validate(tool) for tool in offered]


def knowledge_of(assistant: Assistant) -> list[str]:
    """The assistant's vector store, when it has the file_search tool."""
    if not any(tool.get("type") == "file_search" for tool in assistant.tools):
        return []
    return assistant.vector_store_ids()


async def retrieve(
    services: Services, principal: Principal, rid: str, stores: list[str], messages: list[dict[str, Any]]
) -> Retrieval:
    """The excerpts of the caller's stores for the last user message (shared/knowledge/retrieval.py)."""
    retriever = Retriever(services.knowledge.stores, services.embeddings)
    return await retriever.retrieve(principal, rid, stores, query_of(messages))


async def start_chat(
    body: ChatCompletionRequest,
    request: Request,
    principal: Principal,
    services: Services,
    respond: Responder,
    headers: DoorHeaders,
    *,
    door: str = "chat",
) -> Response:
    """Check `body` (sizes, content parts, parameters, tools: all before anything is reserved), take a
    stream slot when it streams, begin the call (`door` names the API in its usage record and scopes its
    Idempotency-Keys) and answer with `respond`. The stream slot is freed when the stream ends, however
    it ends. Raises the door's 4xx before any hold."""
    stores = list(body.vector_store_ids or [])
    if body.assistant_id is not None:  # its instructions, model and tools, where the request sets none
        assistant = await services.knowledge.assistants.get(principal, body.assistant_id)
        answer_as(body, assistant)
        stores = stores or knowledge_of(assistant)
    if body.template_id is not None:  # before every check: the rendered prompt is checked like any message
        rendered = await services.knowledge.templates.render(
            principal, body.template_id, dict(body.variables or {})
        )
        body.messages.append(ChatMessage(role="user", content=rendered.text))
    body.check_sizes(services.settings.max_message_chars)
    body.check_supported()
    # Decoding data: URLs takes milliseconds per megabyte: off the event loop when there are any.
    content_limits = ContentLimits.from_settings(services.settings)
    if any(isinstance(m.content, list) for m in body.messages):
        media = await anyio.to_thread.run_sync(inspect, body.messages, content_limits)
    else:
        media = inspect(body.messages, content_limits)
    needs = check_params(body) | media.needs
    tool_options = body.tool_options()  # checked before anything is reserved
    messages = body.wire_messages()
    retrieval = await retrieve(services, principal, request_id(request), stores, messages) if stores else None
    if retrieval is not None and (excerpts := retrieval.message()) is not None:
        messages = [excerpts, *messages]
    checked = Checked(
        legacy=tool_options.legacy,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
    )

    async def begin() -> Response:
        started = await services.chat.begin(
            principal,
            request_id(request),
            body.model,
            messages,
            body.requested_max_tokens(),
            {**body.sampling(), **tool_options.params()},
            idempotency_key=headers.idempotency_key,
            fingerprint=fingerprint(body.model_dump(mode="json")),
            scope=door,
            cache_opt_in=opted_in(headers.x_cache),
            cache_directives=CacheDirectives.parse(headers.cache_control),
            needs=needs,
            door=door,
            assistant_id=body.assistant_id,
            retrieval=retrieval,
        )
        return await respond(started, checked)

    return await in_stream_slot(services, principal, bool(body.stream), begin)


async def in_stream_slot(
    services: Services, principal: Principal, stream: bool, answer: Callable[[], Awaitable[Response]]
) -> Response:
    """`answer()`, holding one of the caller's open-stream slots when it streams (429 past the cap). The
    slot is freed when the stream ends, however it ends, and at once for a plain answer or an error."""
    concurrency = services.open_limits.concurrency
    lease = await concurrency.acquire(services.open_limits.streams, principal.user_id) if stream else None
    try:
        response = await answer()
    except BaseException:
        await concurrency.release(lease)
        raise
    if isinstance(response, WatchedStreamingResponse):  # freed when the response is over, read or not
        response.closers.append(partial(concurrency.release, lease))
    elif isinstance(response, StreamingResponse):
        response.body_iterator = released_after(response.body_iterator, concurrency, lease)
    else:
        await concurrency.release(lease)
    return response
