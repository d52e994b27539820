"""POST /v1/chat/completions, OpenAI-compatible, streaming or not."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from run_services.api.chat_responses import respond
from run_services.api.chat_start import ChatHeaders, Checked, start_chat
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
    headers: ChatHeaders,
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
        headers,
    )
    response.headers.update(limits.headers())
    return response
