"""OpenAI wire format for completions and stream chunks, built from our own results."""

from __future__ import annotations

import json
from typing import Any

from shared.catalog.catalog import usd
from shared.chat.schemas import CallResult


def sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


DONE = sse("[DONE]")


def usage_body(result: CallResult) -> dict[str, Any]:
    """OpenAI's usage plus what the call cost: `credits` (the integer charged) and `cost` (its USD price)."""
    return {
        "prompt_tokens": result.input_tokens,
        "completion_tokens": result.output_tokens,
        "total_tokens": result.input_tokens + result.output_tokens,
        "credits": result.credits,
        "cost": usd(result.credits),
    }


def completion_body(result: CallResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "object": "chat.completion",
        "created": result.created,
        "model": result.model,
        "provider": result.provider,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.content},
                "logprobs": result.logprobs,
                "finish_reason": result.finish_reason,
            }
        ],
        "usage": usage_body(result),
        "credits": result.credits,
    }


def chunk(
    cid: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    logprobs: dict[str, Any] | None = None,
) -> bytes:
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    if logprobs is not None:  # only when the client asked for them (OpenAI sends null otherwise)
        choice["logprobs"] = logprobs
    payload: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [choice],
    }
    if usage is not None:
        payload["usage"] = usage
    return sse(payload)


def finish_chunk(result: CallResult, include_usage: bool) -> bytes:
    """The chunk with the finish reason. Without `stream_options.include_usage` it carries the usage
    (and the charge) itself, so every stream ends by saying what it cost; with it, OpenAI's separate
    usage chunk (empty `choices`) follows instead."""
    usage = None if include_usage else usage_body(result)
    return chunk(result.id, result.created, result.model, {}, result.finish_reason, usage)


def usage_chunk(result: CallResult) -> bytes:
    return sse(
        {
            "id": result.id,
            "object": "chat.completion.chunk",
            "created": result.created,
            "model": result.model,
            "choices": [],
            "usage": usage_body(result),
            "credits": result.credits,
        }
    )


def error_event(error: dict[str, str], result: CallResult | None = None) -> bytes:
    """A stream cut by an error: the error, and what the part that reached the client cost."""
    if result is None:
        return sse({"error": error})
    return sse({"error": error, "usage": usage_body(result), "credits": result.credits})


def replay_chunks(result: CallResult, include_usage: bool, pieces: list[str] | None = None) -> list[bytes]:
    """A stored result streamed back: role, the text (whole, or in `pieces`), the finish, usage, [DONE]."""
    out = [chunk(result.id, result.created, result.model, {"role": "assistant", "content": ""})]
    for piece in pieces if pieces is not None else [result.content]:
        if piece:
            out.append(chunk(result.id, result.created, result.model, {"content": piece}))
    if result.error:
        out.append(error_event(result.error, result))
    else:
        out.append(finish_chunk(result, include_usage))
    if include_usage:
        out.append(usage_chunk(result))
    out.append(DONE)
    return out
