"""POST /v1/chat/completions, OpenAI-compatible, streaming or not."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from run_services.api.chat_responses import respond
from run_services.api.chat_start import Checked, start_chat
from run_services.api.deps import RateLimitDep, ServicesDep, Spender
from shared.chat.schemas import ChatCompletionRequest
from shared.chat.service import ChatCall, Replay

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
    async def answer(started: ChatCall | Replay, checked: Checked) -> Response:
        return await respond(
            services,
            started,
            stream=body.stream,
            include_usage=checked.include_usage,
            legacy=checked.legacy,
        )

    response = await start_chat(
        body,
        request,
        principal,
        services,
        answer,
        idempotency_key=idempotency_key,
        cache_control=cache_control,
        x_cache=x_cache,
    )
    response.headers.update(limits.headers())
    return response
