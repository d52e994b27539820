"""Anthropic's Messages answers, from what the chat door produced: a message, a stream of Anthropic's
events, and errors in Anthropic's shape.

The stream follows Anthropic's sequence exactly: `message_start`, a `ping`, then per content block
`content_block_start`, its deltas (`text_delta`, or `input_json_delta` for a tool call's input, in the
order the provider sent the fragments) and `content_block_stop`, then `message_delta` (stop reason and
output usage) and `message_stop`. Input comes as the chat door's deltas (OpenAI's shape: `content`,
`tool_calls` fragments with `index`, the `id` and `name` on a call's first fragment).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

log = logging.getLogger("protocols.anthropic")

DOOR_PATH = "/v1/messages"  # requests under it are answered in Anthropic's shape, errors included

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# Our status -> Anthropic's error type. Anthropic has no "out of credits": 402 is its billing_error.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def stop_reason(finish_reason: str | None) -> str | None:
    return None if finish_reason is None else STOP_REASONS.get(finish_reason, "end_turn")


def error_status(status: int, code: str) -> int:
    """Every provider failing is Anthropic's 529 (overloaded): its SDKs and Claude Code retry that."""
    return 529 if status == 503 and code == "all_providers_failed" else status


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def message_id(chat_id: str) -> str:
    return "msg_" + chat_id.removeprefix("chatcmpl-")


def usage(prompt_tokens: int, output_tokens: int, credits: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"input_tokens": prompt_tokens, "output_tokens": output_tokens}
    if credits is not None:
        out["credits"] = credits
        out["cost"] = credits / 1_000_000
    return out


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as Anthropic's `input` object (`{}` when a provider sent none)."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return {"_unparsed_arguments": arguments}  # the model wrote broken JSON: keep it, do not lose it
    return value if isinstance(value, dict) else {"value": value}


def message(completion: dict[str, Any]) -> dict[str, Any]:
    """A chat completion body (OpenAI's shape) as Anthropic's message."""
    choice = completion["choices"][0]
    said = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if said.get("content"):
        content.append({"type": "text", "text": said["content"]})
    for call in said.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": tool_input(function.get("arguments") or ""),
            }
        )
    counted = completion.get("usage") or {}
    return {
        "id": message_id(str(completion["id"])),
        "type": "message",
        "role": "assistant",
        "model": completion["model"],
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": usage(
            int(counted.get("prompt_tokens", 0)),
            int(counted.get("completion_tokens", 0)),
            counted.get("credits"),
        ),
    }


def event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


class MessageEvents:
    """Turns one chat stream's deltas into Anthropic's events; one instance per stream."""

    def __init__(self, chat_id: str, model: str, input_tokens: int) -> None:
        self.id = message_id(chat_id)
        self.model = model
        self.input_tokens = input_tokens
        self._index = -1  # the content block open now (-1: none yet)
        self._open: str | None = None  # "text" or "tool_use"
        self._tools: dict[int, int] = {}  # the provider's tool call index -> our block index

    def start(self) -> list[bytes]:
        head: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
        }
        return [
            event("message_start", {"type": "message_start", "message": head}),
            event("ping", {"type": "ping"}),
        ]

    def delta(self, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        text = delta.get("content")
        if text:
            if self._open != "text":
                out += self._open_block({"type": "text", "text": ""}, "text")
            out.append(self._block_delta({"type": "text_delta", "text": text}))
        for fragment in delta.get("tool_calls") or []:
            out += self._tool_fragment(fragment)
        return out

    def _tool_fragment(self, fragment: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        index = int(fragment.get("index", 0))
        function = fragment.get("function") or {}
        if index not in self._tools:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": fragment.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": function.get("name") or "",
                "input": {},
            }
            out += self._open_block(block, "tool_use")
            self._tools[index] = self._index
        elif self._tools[index] != self._index:
            # A fragment of an earlier call after another block began: Anthropic's blocks do not
            # interleave, so it cannot be placed. Providers send each call's fragments together.
            log.warning("interleaved tool call fragment dropped", extra={"tool_index": index})
            return out
        arguments = function.get("arguments")
        if arguments:
            out.append(self._block_delta({"type": "input_json_delta", "partial_json": arguments}))
        return out

    def finish(
        self,
        finish_reason: str | None,
        output_tokens: int,
        credits: int | None = None,
        input_tokens: int | None = None,
    ) -> list[bytes]:
        """`input_tokens`: what the call was charged for when it differs from the count at the start (the
        provider reported its own), so the usage here is what the credits priced."""
        out = self._close_block()
        counted = self.input_tokens if input_tokens is None else input_tokens
        tail = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(finish_reason) or "end_turn", "stop_sequence": None},
            "usage": usage(counted, output_tokens, credits),
        }
        out.append(event("message_delta", tail))
        out.append(event("message_stop", {"type": "message_stop"}))
        return out

    def error(self, status: int, message: str) -> list[bytes]:
        """A failure after the stream began: Anthropic sends an `error` event and ends."""
        return [event("error", error_body(status, message))]

    def _open_block(self, block: dict[str, Any], kind: str) -> list[bytes]:
        out = self._close_block()
        self._index += 1
        self._open = kind
        start = {"type": "content_block_start", "index": self._index, "content_block": block}
        out.append(event("content_block_start", start))
        return out

    def _close_block(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [event("content_block_stop", {"type": "content_block_stop", "index": self._index})]

    def _block_delta(self, delta: dict[str, Any]) -> bytes:
        return event(
            "content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}
        )
