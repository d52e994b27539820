"""The product's threads API: conversations stored server-side, replies streamed over SSE."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from run_services.api.chat_responses import respond
from run_services.api.chat_start import in_stream_slot, knowledge_of, retrieve
from run_services.api.deps import CurrentPrincipal, RateLimitDep, ServicesDep, Spender, ThreadId, request_id
from shared.assistants.apply import function_tools, sampling_defaults, with_instructions
from shared.chat import tools
from shared.chat.idempotency import fingerprint
from shared.chat.schemas import CallResult, ContentPart
from shared.chat.thread_content import MAX_PARTS, history_needs, user_content
from shared.chat.tools import ToolChoice, ToolDef
from shared.errors import BadRequest, Conflict
from shared.settings import Settings

router = APIRouter(tags=["threads"])


class NewThread(BaseModel):
    title: str | None = Field(None, max_length=200)


class ToolResult(BaseModel):
    """The result of a tool call the thread's last reply made."""

    tool_call_id: str = Field(min_length=1, max_length=256)
    content: str = Field(max_length=200_000)


class NewMessage(BaseModel):
    """A user message, or the results of the last reply's tool calls (then optionally a user message).
    `content` is text, or text and image_url parts as chat completions take them (stored with the thread:
    shared/chat/thread_content.py). `tools`, `tool_choice` and `parallel_tool_calls` are sent with each
    message, as with chat."""

    content: (
        Annotated[str, Field(min_length=1, max_length=200_000)]
        | Annotated[list[ContentPart], Field(min_length=1, max_length=MAX_PARTS)]
        | None
    ) = None
    tool_results: list[ToolResult] | None = Field(None, min_length=1, max_length=tools.MAX_TOOL_CALLS)
    model: str | None = Field(None, max_length=200)
    assistant_id: str | None = Field(None, max_length=64, description="Answer as this assistant.")
    vector_store_ids: list[str] | None = Field(None, max_length=2, description="Stores to answer from.")
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    stream: bool = True
    tools: list[ToolDef] | None = Field(None, max_length=10_000)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None

    async def inputs(self, settings: Settings) -> tuple[list[dict[str, Any]], frozenset[str]]:
        """What this post adds to the thread, in order (the tool results, then the user's message), and
        the capabilities its content needs (images)."""
        out: list[dict[str, Any]] = [
            {"role": "tool", "tool_call_id": r.tool_call_id, "content": r.content}
            for r in self.tool_results or ()
        ]
        needs: frozenset[str] = frozenset()
        if self.content is not None:
            content, needs = await user_content(self.content, settings)
            out.append({"role": "user", "content": content})
        if not out:
            raise BadRequest("Send `content`, `tool_results`, or both.", code="empty_message")
        return out, needs


@router.post("/v1/threads", status_code=201)
async def create_thread(
    principal: CurrentPrincipal, services: ServicesDep, body: NewThread | None = None
) -> dict[str, Any]:
    limit = services.settings.max_threads
    if await services.threads.count_for_user(principal.user_id) >= limit:
        raise Conflict(
            f"You already have {limit} threads, the most an account may keep; continue one of them.",
            code="too_many_threads",
        )
    retention = services.offers.get(principal.plan).thread_retention_days
    thread = await services.threads.create(principal, body.title if body else None, retention)
    return {"object": "thread", **thread.model_dump(mode="json")}


@router.get("/v1/threads")
async def list_threads(
    principal: CurrentPrincipal, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, Any]:
    threads = await services.threads.list_threads(principal, limit)
    return {"object": "list", "data": [{"object": "thread", **t.model_dump(mode="json")} for t in threads]}


@router.get("/v1/threads/{thread_id}")
async def get_thread(
    thread_id: ThreadId, principal: CurrentPrincipal, services: ServicesDep
) -> dict[str, Any]:
    thread = await services.threads.get(principal, thread_id)
    return {"object": "thread", **thread.model_dump(mode="json")}


@router.get("/v1/threads/{thread_id}/messages")
async def list_messages(
    thread_id: ThreadId,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[int | None, Query(ge=0, description="Return messages after this seq")] = None,
) -> dict[str, Any]:
    messages = await services.threads.messages(principal, thread_id, limit, after)
    data = [{"object": "thread.message", **m.model_dump(mode="json", exclude_none=True)} for m in messages]
    last = data[-1]["seq"] if len(data) == limit else None
    return {"object": "list", "data": data, "next_after": last}


@router.post("/v1/threads/{thread_id}/messages", response_model=None)
async def post_message(
    thread_id: ThreadId,
    body: NewMessage,
    request: Request,
    principal: Spender,
    services: ServicesDep,
    limits: RateLimitDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    await services.threads.get(principal, thread_id)
    inputs, needs = await body.inputs(services.settings)
    offered = body.tools
    assistant = None
    if body.assistant_id is not None:  # its instructions lead; the thread keeps only what was sent
        assistant = await services.knowledge.assistants.get(principal, body.assistant_id)
        if offered is None:
            offered = [ToolDef.model_validate(t) for t in function_tools(assistant)] or None
    options = tools.check_options(offered, body.tool_choice, body.parallel_tool_calls)
    replayed = await services.threads.history(thread_id)
    needs |= history_needs(replayed)
    messages = [*replayed, *inputs]
    tools.check_history(messages)  # a result answers a call of the last reply, each call is answered
    if assistant is not None:
        messages = with_instructions(assistant, messages)
    stores = list(body.vector_store_ids or []) or (knowledge_of(assistant) if assistant is not None else [])
    retrieval = await retrieve(services, principal, request_id(request), stores, messages) if stores else None
    if retrieval is not None and (excerpts := retrieval.message()) is not None:
        messages = [excerpts, *messages]

    async def store(result: CallResult) -> dict[str, Any]:
        retention = services.offers.get(principal.plan).thread_retention_days
        return await services.threads.append_exchange(thread_id, inputs, result, retention)

    params: dict[str, Any] = {"temperature": body.temperature} if body.temperature is not None else {}
    if assistant is not None:
        params = sampling_defaults(assistant, params)
    params.update(options.params())

    async def begin() -> Response:
        started = await services.chat.begin(
            principal,
            request_id(request),
            body.model or (assistant.model if assistant is not None else None),
            messages,
            body.max_tokens,
            params,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint(body.model_dump(mode="json")),
            scope=f"thread:{thread_id}",
            on_finish=store,
            assistant_id=body.assistant_id,
            retrieval=retrieval,
            needs=needs,
        )
        return await respond(services, started, stream=body.stream, include_usage=True, thread=True)

    response = await in_stream_slot(services, principal, bool(body.stream), begin)  # a reply's stream slot
    response.headers.update(limits.headers())
    return response
