"""POST /v1/chat/completions, OpenAI-compatible, streaming or not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from run_services.api.deps import CurrentPrincipal, ServicesDep, request_id
from run_services.api.streaming import SSEResponse
from shared.chat import openai_format as fmt
from shared.chat.idempotency import fingerprint
from shared.chat.schemas import CallResult, ChatCompletionRequest
from shared.chat.service import ChatStream, Replay

router = APIRouter(tags=["chat"])


def result_headers(result: CallResult, replayed: bool = False) -> dict[str, str]:
    headers = {
        "X-Model": result.model,
        "X-Provider": result.provider,
        "X-Credits-Charged": str(result.credits),
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


async def relay(stream: ChatStream, include_usage: bool) -> AsyncIterator[bytes]:
    call = stream.call
    cid, created, model = f"chatcmpl-{call.hold_id}", call.created, call.spec.id
    yield fmt.chunk(cid, created, model, {"role": "assistant", "content": ""})
    async for delta in stream.deltas():
        if delta.text:
            yield fmt.chunk(cid, created, model, {"content": delta.text})
    result = stream.result
    if stream.error is not None:
        yield fmt.error_event(stream.error.body()["error"])
    elif result is not None:
        yield fmt.chunk(cid, created, model, {}, result.finish_reason)
    if include_usage and result is not None:
        yield fmt.usage_chunk(result)
    yield fmt.DONE


async def replay_stream(result: CallResult, include_usage: bool) -> AsyncIterator[bytes]:
    for part in fmt.replay_chunks(result, include_usage):
        yield part


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    principal: CurrentPrincipal,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    body.check_supported()
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    started = await services.chat.begin(
        principal,
        request_id(request),
        body.model,
        body.wire_messages(),
        body.requested_max_tokens(),
        body.sampling(),
        idempotency_key=idempotency_key,
        fingerprint=fingerprint(body.model_dump(mode="json")),
    )
    if isinstance(started, Replay):
        headers = result_headers(started.result, replayed=True)
        if body.stream:
            return SSEResponse(replay_stream(started.result, include_usage), headers=headers)
        return JSONResponse(fmt.completion_body(started.result), headers=headers)
    if not body.stream:
        result = await services.chat.complete(started)
        return JSONResponse(fmt.completion_body(result), headers=result_headers(result))
    stream = await services.chat.open_stream(started)
    headers = {"X-Model": started.spec.id, "X-Provider": started.provider.name}
    return SSEResponse(relay(stream, include_usage), headers=headers)
