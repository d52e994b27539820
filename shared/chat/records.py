"""The usage record of a chat call, answered live or from the cache: one shape for both."""

from __future__ import annotations

import logging
from typing import Any

from shared.auth.schemas import Principal
from shared.gateway.types import Usage
from shared.usage.recorder import UsageRecorder


def chat_fields(
    principal: Principal,
    request_id: str,
    hold_id: str,
    wallet_id: str,
    *,
    requested: str,
    model: str,
    provider: str,
    input_tokens: int,
    output_tokens: int,
    credits: int,
    outcome: str,
    latency_ms: float,
    ttft_ms: float | None,
    usage: Usage | None = None,
    provider_ms: float | None = None,
    deployment: str | None = None,
    attempts: int = 0,
    route_reason: str | None = None,
    error_code: str | None = None,
    api: str = "chat",
    guardrails: list[dict[str, Any]] | None = None,
    assistant_id: str | None = None,
) -> dict[str, Any]:
    """The fields of a chat usage record. Prompt-cache tokens count only when the input was charged.
    `api` names the door the call came through (chat, messages, responses): one ledger behind them.
    `guardrails`: the checks that fired (check, kind, action, count; never the text found)."""
    cached = usage if input_tokens > 0 else None
    return {
        "user_id": principal.user_id,
        "wallet_id": wallet_id,
        "workspace_id": principal.workspace_id,
        "feature": "chat",
        "api": api,
        "api_key_id": principal.key_id,
        "request_id": request_id,
        "hold_id": hold_id,
        "model": model,
        "provider": provider,
        "requested_model": requested,
        "deployment": deployment,
        "attempts": attempts,
        "route_reason": route_reason,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cached.cache_read_tokens if cached is not None else 0,
        "cache_write_tokens": cached.cache_write_tokens if cached is not None else 0,
        "usage_reported": usage.reported if usage is not None else False,
        "credits": credits,
        "latency_ms": latency_ms,
        "ttft_ms": ttft_ms,
        "provider_ms": provider_ms,  # time spent on providers before the answer (a stream: its first delta)
        "outcome": outcome,
        "error_code": error_code,
        "guardrails": guardrails or [],
        "assistant_id": assistant_id,
    }


async def record(
    recorder: UsageRecorder,
    log: logging.Logger,
    message: str,
    fields: dict[str, Any],
    traced: dict[str, Any] | None = None,
) -> None:
    """Write the record (its id is the hold's) and log the same fields; `traced` (the content, when the
    workspace opted in to content in LLM traces) goes to the recorder's observers only."""
    await recorder.record(fields["hold_id"], traced, **fields)
    log.info(message, extra={"usage": fields})


def ms_since(started: float, at: float) -> float:
    return round((at - started) * 1000, 1)
