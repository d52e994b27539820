"""OpenAI's Responses API: `POST /v1/responses`, `GET`/`DELETE /v1/responses/{id}` and
`GET /v1/responses/{id}/input_items`, in front of the same chat service as /v1/chat/completions.

The request is translated into a chat completions request (shared/protocols/openai_responses_request.py)
and goes through the chat door's own path (run_services/api/chat_start.py): same checks, hold, router,
fallbacks, limits, budgets, workspaces, Idempotency-Keys and usage records (`api: "responses"`). The
answer is OpenAI's Response object, or its typed event stream (shared/protocols/openai_responses_*.py).
With `store` (the default, as OpenAI's) the response is kept for the caller in the scope it was made in
(shared/chat/stored_responses.py): read, listed, deleted, and continued by `previous_response_id`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from run_services.api.chat_responses import result_headers, route_headers
from run_services.api.chat_start import ChatHeaders, Checked, start_chat
from run_services.api.deps import RateLimitDep, ResponseId, ServicesDep, Spender
from run_services.api.streaming import SSEResponse
from shared.auth.schemas import Principal
from shared.bootstrap import Services
from shared.chat import openai_format as fmt
from shared.chat.schemas import CallResult, ChatCompletionRequest
from shared.chat.service import ChatCall, ChatStream, Replay
from shared.chat.tools import whole_deltas
from shared.errors import BadRequest
from shared.protocols import openai_responses_response as shape
from shared.protocols.openai_responses_events import ResponseEvents
from shared.protocols.openai_responses_request import ResponsesRequest

log = logging.getLogger("responses")
router = APIRouter(tags=["responses"])

DOOR = "responses"


class Storing:
    """Where a finished response goes when the request asked to store it."""

    def __init__(
        self, services: Services, principal: Principal, encoded_input: str, chain: list[str]
    ) -> None:
        self.services, self.principal, self.encoded_input, self.chain = (
            services,
            principal,
            encoded_input,
            chain,
        )

    async def save(self, body: dict[str, Any]) -> None:
        try:
            await self.services.responses.save(
                self.principal, body["id"], self.encoded_input, body, self.chain
            )
        except Exception:  # the call is answered and charged: a lost copy is logged, not a failed answer
            log.exception("response not stored", extra={"response_id": body["id"]})


def as_chat(request: ResponsesRequest, history: list[dict[str, Any]]) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate(request.to_chat(history))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadRequest(f"{where or 'body'}: {first.get('msg')}", code="invalid_request") from None


def echo_of(request: ResponsesRequest) -> shape.Echo:
    tools = [t.model_dump(exclude_none=True) for t in request.tools or []]
    text = request.text.model_dump(exclude_none=True) if request.text and request.text.format else None
    return shape.Echo(
        instructions=request.instructions,
        max_output_tokens=request.max_output_tokens,
        previous_response_id=request.previous_response_id,
        metadata=dict(request.metadata or {}),
        store=request.store,
        temperature=request.temperature,
        top_p=request.top_p,
        parallel_tool_calls=request.parallel_tool_calls is not False,
        tool_choice=request.tool_choice if request.tool_choice is not None else "auto",
        tools=tools,
        text=text or {"format": {"type": "text"}},
        user=request.user,
    )


@router.post("/v1/responses", response_model=None)
async def create_response(
    body: ResponsesRequest,
    request: Request,
    principal: Spender,
    services: ServicesDep,
    limits: RateLimitDep,
    headers: ChatHeaders,
) -> Response:
    body.check_refused()
    history: list[dict[str, Any]] = []
    chain: list[str] = []
    if body.previous_response_id:
        history, chain = await services.responses.history(principal, body.previous_response_id)
    storing = (
        Storing(services, principal, services.responses.check_storable(body.items()), chain)
        if body.store
        else None
    )
    chat = as_chat(body, history)
    echo = echo_of(body)

    async def answer(started: ChatCall | Replay, checked: Checked) -> Response:
        return await respond(services, started, echo, storing, stream=chat.stream)

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


async def respond(
    services: Services, started: ChatCall | Replay, echo: shape.Echo, storing: Storing | None, *, stream: bool
) -> Response:
    if isinstance(started, Replay):
        result = started.result
        headers = result_headers(result, replayed=started.cache_match is None)
        if started.cache_match is not None:
            headers.update({"X-Cache": "hit", "X-Cache-Match": started.cache_match})
        if stream:
            return SSEResponse(
                _replayed(result, echo), headers=headers, stall_s=services.settings.stream_stall_s
            )
        return JSONResponse(shape.response(result, echo), headers=headers)
    cache = {"X-Cache": started.asked.cache_plan.status}
    if not stream:
        result = await services.chat.complete(started)
        body = shape.response(result, echo)
        if storing is not None:
            await storing.save(body)
        return JSONResponse(body, headers={**result_headers(result), **cache})
    live = await services.chat.open_stream(started)
    serving = started.serving
    headers = route_headers(serving.spec.id, serving.provider.name, started.asked.route_reason)
    return SSEResponse(
        _live(started, live, echo, storing),
        headers={**headers, **cache},
        stall_s=services.settings.stream_stall_s,
        on_stall=live.client_stalled,
        on_close=live.close,  # settles a stream whose body was never read
    )


async def _live(
    call: ChatCall, stream: ChatStream, echo: shape.Echo, storing: Storing | None
) -> AsyncIterator[bytes]:
    """The Responses events from the chat stream's deltas, then the final event with usage and credits."""
    events = ResponseEvents(shape.response_id(call.id), int(time.time()), call.serving.spec.id, echo)
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
    if result is not None:
        tail = events.finish(result)
        if storing is not None:
            await storing.save(shape.response(result, echo))
    else:  # the stream failed before anything was produced or charged
        error = stream.error
        failed = shape.head(events.id, events.created_at, events.model, echo, "failed")
        failed["error"] = {
            "code": error.code if error else "server_error",
            "message": error.message if error else "",
        }
        tail = [events.event("response.failed", {"response": failed})]
    for part in tail:
        yield part


async def _replayed(result: CallResult, echo: shape.Echo) -> AsyncIterator[bytes]:
    """A stored result as a stream: its text in one delta, each tool call whole in one."""
    events = ResponseEvents(shape.response_id(result.id), result.created, result.model, echo)
    parts = events.start() + events.delta({"content": result.content})
    if result.tool_calls:
        parts += events.delta({"tool_calls": whole_deltas(result.tool_calls)})
    parts += events.finish(result)
    for part in parts:
        yield part


@router.get("/v1/responses/{response_id}")
async def get_response(response_id: ResponseId, principal: Spender, services: ServicesDep) -> JSONResponse:
    """A stored response: yours, in the scope it was made in (your own, or the workspace's)."""
    return JSONResponse(await services.responses.get(principal, response_id))


@router.delete("/v1/responses/{response_id}")
async def delete_response(response_id: ResponseId, principal: Spender, services: ServicesDep) -> JSONResponse:
    await services.responses.delete(principal, response_id)
    return JSONResponse({"id": response_id, "object": "response", "deleted": True})


@router.get("/v1/responses/{response_id}/input_items")
async def list_input_items(
    response_id: ResponseId,
    principal: Spender,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
) -> JSONResponse:
    """The input items the response was made from (OpenAI's list shape)."""
    items = await services.responses.input_items(principal, response_id)
    data = [
        {"id": item.get("id") or f"msg_{response_id.removeprefix('resp_')}_{i}", **item}
        for i, item in enumerate(items)
    ]
    if order == "desc":
        data.reverse()
    data = data[:limit]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(items) > limit,
        }
    )
