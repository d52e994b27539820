"""The provider's JSON, read for what the gateway needs: text, finish reason, tool calls, logprobs, usage.

Mirrors what shared/gateway/calls.py reads from litellm's objects, so both lanes give the same Delta,
Usage and answer for the same provider bytes.
"""

from __future__ import annotations

from typing import Any

from shared.gateway.types import Answer, Delta, ToolCall, ToolCallDelta, Usage

# litellm's map_finish_reason for the values OpenAI-wire servers send besides OpenAI's own.
_FINISH = {
    "eos": "stop",
    "eos_token": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
}


def usage_of(raw: Any) -> Usage | None:
    """Our Usage from the provider's `usage` (None without completion tokens); cached tokens as
    OpenAI (prompt_tokens_details), DeepSeek (prompt_cache_hit_tokens) or Anthropic-style fields say."""
    if not isinstance(raw, dict) or raw.get("completion_tokens") is None:
        return None
    details = raw.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = int(details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0)
    written = int(details.get("cache_write_tokens") or 0)
    read = int(raw.get("cache_read_input_tokens") or 0) or cached
    write = int(raw.get("cache_creation_input_tokens") or 0) or written
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw["completion_tokens"]), True, read, write)


def finish_of(value: Any) -> str | None:
    if not value:
        return None
    text = str(value)
    return _FINISH.get(text, text)


def logprobs_of(choice: dict[str, Any]) -> dict[str, Any] | None:
    raw = choice.get("logprobs")
    return raw if isinstance(raw, dict) and any(raw.values()) else None


def delta_of(chunk: dict[str, Any]) -> Delta | None:
    """The first choice of a stream chunk with something in it, as a Delta (None: nothing to pass on)."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content") or ""
        calls = tool_call_deltas(delta.get("tool_calls"))
        finish = finish_of(choice.get("finish_reason"))
        logprobs = logprobs_of(choice)
        if text or finish or calls or logprobs:
            return Delta(text, finish, calls, logprobs)
    return None


def tool_call_deltas(raw: Any) -> tuple[ToolCallDelta, ...]:
    """The provider's streamed tool-call pieces, as sent (id and name only where it sent them)."""
    if not raw:
        return ()
    out = []
    for position, call in enumerate(raw):
        function = call.get("function") or {}
        index = call.get("index")
        out.append(
            ToolCallDelta(
                index=position if index is None else int(index),
                id=call.get("id") or None,
                name=function.get("name") or None,
                arguments=function.get("arguments") or "",
            )
        )
    return tuple(out)


def answer_of(body: dict[str, Any]) -> Answer:
    """A whole chat completion's first choice and usage."""
    choices = body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    calls = tuple(_whole_call(c) for c in message.get("tool_calls") or ())
    return Answer(
        text=message.get("content") or "",
        finish_reason=finish_of(choice.get("finish_reason")),
        tool_calls=calls,
        usage=usage_of(body.get("usage")),
        logprobs=logprobs_of(choice),
    )


def _whole_call(call: dict[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    return ToolCall(str(call.get("id")), function.get("name") or "", function.get("arguments") or "")
