"""OpenAI wire format for completions and stream chunks, built from our own results.

Tool calls go out as `message.tool_calls` (content null when the answer is only calls) and as
`delta.tool_calls`; a request sent with the legacy `functions` gets `function_call` instead
(`legacy=True`), finish reason "function_call".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shared.catalog.catalog import usd
from shared.chat.schemas import CallResult
from shared.chat.tools import delta_wire, whole_deltas
from shared.gateway.types import ToolCallDelta


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


def finish_reason(reason: str | None, legacy: bool = False) -> str | None:
    return "function_call" if legacy and reason == "tool_calls" else reason


def message_body(result: CallResult, legacy: bool = False) -> dict[str, Any]:
    """The assistant message: its text, and its tool calls (or the legacy function call)."""
    calls = result.tool_calls or []
    message: dict[str, Any] = {"role": "assistant", "content": result.content or (None if calls else "")}
    if calls and legacy:
        message["function_call"] = calls[0].function.model_dump()
    elif calls:
        message["tool_calls"] = [call.model_dump() for call in calls]
    if result.citations is not None:  # a call with knowledge: the excerpts its answer cites
        message["annotations"] = result.citations
    return message


def tool_delta(deltas: Sequence[ToolCallDelta], legacy: bool = False) -> dict[str, Any]:
    """A chunk's delta for streamed tool-call pieces, as the provider sent them (OpenAI's shape)."""
    if not legacy:
        return {"tool_calls": delta_wire(deltas)}
    function = delta_wire(deltas[:1])[0]["function"] if deltas else {"arguments": ""}
    return {"function_call": function}


def completion_body(result: CallResult, legacy: bool = False) -> dict[str, Any]:
    return {
        "id": result.id,
        "object": "chat.completion",
        "created": result.created,
        "model": result.model,
        "provider": result.provider,
        "choices": [
            {
                "index": 0,
                "message": message_body(result, legacy),
                "logprobs": result.logprobs,
                "finish_reason": finish_reason(result.finish_reason, legacy),
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


def finish_chunk(result: CallResult, include_usage: bool, legacy: bool = False) -> bytes:
    """The chunk with the finish reason. Without `stream_options.include_usage` it carries the usage
    (and the charge) itself, so every stream ends by saying what it cost; with it, OpenAI's separate
    usage chunk (empty `choices`) follows instead."""
    usage = None if include_usage else usage_body(result)
    reason = finish_reason(result.finish_reason, legacy)
    delta = {"annotations": result.citations} if result.citations is not None else {}
    return chunk(result.id, result.created, result.model, delta, reason, usage)


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


def replay_chunks(
    result: CallResult, include_usage: bool, pieces: list[str] | None = None, legacy: bool = False
) -> list[bytes]:
    """A stored result streamed back: role, the text (whole, or in `pieces`), the tool calls (each
    whole, in one delta), the finish, usage, [DONE]."""
    out = [chunk(result.id, result.created, result.model, {"role": "assistant", "content": ""})]
    for piece in pieces if pieces is not None else [result.content]:
        if piece:
            out.append(chunk(result.id, result.created, result.model, {"content": piece}))
    if result.tool_calls:
        calls = result.tool_calls
        delta = (
            {"function_call": calls[0].function.model_dump()}
            if legacy
            else {"tool_calls": whole_deltas(calls)}
        )
        out.append(chunk(result.id, result.created, result.model, delta))
    if result.error:
        out.append(error_event(result.error, result))
    else:
        out.append(finish_chunk(result, include_usage, legacy))
    if include_usage:
        out.append(usage_chunk(result))
    out.append(DONE)
    return out
