"""POST /v1/chat/completions, OpenAI-compatible, streaming or not."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse

from run_services.api.chat_responses import respond
from run_services.api.deps import RateLimitDep, ServicesDep, Spender, request_id
from shared.cache.keys import CacheDirectives, opted_in
from shared.chat.content import ContentLimits, inspect
from shared.chat.idempotency import fingerprint
from shared.chat.params import check_params
from shared.chat.schemas import ChatCompletionRequest
from shared.limits.concurrency import released_after

router = APIRouter(tags=["chat"])


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    principal: Spender,
    services: ServicesDep,
    limits: RateLimitDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    cache_control: Annotated[str | None, Header(alias="Cache-Control")] = None,
    x_cache: Annotated[str | None, Header(alias="X-Cache")] = None,
) -> Response:
    body.check_sizes(services.settings.max_message_chars)
    body.check_supported()
    # Parts and parameters are checked before anything is reserved; the model must take what they need.
    # Decoding data: URLs takes milliseconds per megabyte: off the event loop when there are any.
    content_limits = ContentLimits.from_settings(services.settings)
    if any(isinstance(m.content, list) for m in body.messages):
        media = await anyio.to_thread.run_sync(inspect, body.messages, content_limits)
    else:
        media = inspect(body.messages, content_limits)
    needs = check_params(body) | media.needs
    tool_options = body.tool_options()  # checked before anything is reserved
    messages = body.wire_messages()
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    open_limits = services.open_limits
    concurrency = open_limits.concurrency
    lease = await concurrency.acquire(open_limits.streams, principal.user_id) if body.stream else None
    try:
        started = await services.chat.begin(
            principal,
            request_id(request),
            body.model,
            messages,
            body.requested_max_tokens(),
            {**body.sampling(), **tool_options.params()},
            idempotency_key=idempotency_key,
            fingerprint=fingerprint(body.model_dump(mode="json")),
            cache_opt_in=opted_in(x_cache),
            cache_directives=CacheDirectives.parse(cache_control),
            needs=needs,
        )
        response = await respond(
            services, started, stream=body.stream, include_usage=include_usage, legacy=tool_options.legacy
        )
    except BaseException:
        await concurrency.release(lease)
        raise
    if isinstance(response, StreamingResponse):  # the slot is freed when the stream ends, however it ends
        response.body_iterator = released_after(response.body_iterator, concurrency, lease)
    else:
        await concurrency.release(lease)
    response.headers.update(limits.headers())
    return response
