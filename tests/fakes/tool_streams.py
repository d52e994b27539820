"""Recorded tool-calling answers in three providers' shapes, served by the fake provider's app.

The streams in tests/fakes/recorded/ are written by hand from the providers' public documentation of
streamed function calling: OpenAI's Chat Completions chunks (`delta.tool_calls`, id, type and name on
a call's first fragment only), Anthropic's Messages SSE (`message_start`, a `tool_use`
`content_block_start`, `input_json_delta` fragments, `content_block_stop`, `message_delta` with
`stop_reason: "tool_use"`, `message_stop`) and Gemini's `streamGenerateContent?alt=sse` (whole
`functionCall` parts). They are served byte for byte; a non-streamed request gets the same answer
assembled into that provider's whole-response shape.

A request picks one with `[[tools:single]]` or `[[tools:parallel]]` in its last user message (and must
send `tools`); anything else (a follow-up whose last message is a tool result) is answered with text.
Routes: `/v1/chat/completions` (and the fleet's, in tests/fakes/provider.py), `/anthropic/v1/messages`,
`/gemini/v1beta/models/{model}:generateContent` and `:streamGenerateContent`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

RECORDED = Path(__file__).parent / "recorded"
DIRECTIVE = re.compile(r"\[\[tools:(single|parallel)\]\]")
TEXT_REPLY = ["The", " weather", " in", " Paris", " is", " sunny."]
FOLLOW_UP_INPUT = 40  # the input tokens the Anthropic and Gemini fakes report for a text answer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather of a place.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "City and country"}},
            "required": ["location"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}


def recorded(name: str) -> str:
    """The raw SSE text of a recorded stream, e.g. `openai_single`."""
    return (RECORDED / f"{name}.sse").read_text()


def events(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE text, in order ([DONE] left out)."""
    out = []
    for line in text.splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            out.append(json.loads(line[5:]))
    return out


def blocks(text: str) -> list[str]:
    """The SSE events of a recorded stream, each with its blank line: sent one at a time."""
    return [b + "\n\n" for b in text.split("\n\n") if b.strip()]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def script_of(messages: list[dict[str, Any]], tools_sent: bool) -> str | None:
    """`single` or `parallel` when the last message is a user's asking for it and tools were sent."""
    if not tools_sent or not messages or messages[-1].get("role") != "user":
        return None
    found = DIRECTIVE.search(_text_of(messages[-1].get("content")))
    return found.group(1) if found else None


def gemini_script(contents: list[dict[str, Any]], tools_sent: bool) -> str | None:
    if not tools_sent or not contents or contents[-1].get("role") != "user":
        return None
    text = " ".join(str(p.get("text", "")) for p in contents[-1].get("parts", []))
    found = DIRECTIVE.search(text)
    return found.group(1) if found else None


def openai_whole(name: str) -> dict[str, Any]:
    """A recorded OpenAI stream as the non-streamed chat.completion it stands for."""
    calls: dict[int, dict[str, Any]] = {}
    text, finish, usage, first = "", None, None, None
    for payload in events(recorded(name)):
        first = first or payload
        usage = payload.get("usage") or usage
        for choice in payload.get("choices", []):
            delta = choice.get("delta", {})
            text += delta.get("content") or ""
            finish = choice.get("finish_reason") or finish
            for piece in delta.get("tool_calls") or []:
                call = calls.setdefault(
                    piece["index"], {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                )
                call["id"] = piece.get("id") or call["id"]
                call["function"]["name"] = piece.get("function", {}).get("name") or call["function"]["name"]
                call["function"]["arguments"] += piece.get("function", {}).get("arguments") or ""
    assert first is not None
    message = {"role": "assistant", "content": text or None, "tool_calls": [calls[i] for i in sorted(calls)]}
    return {
        "id": first["id"],
        "object": "chat.completion",
        "created": first["created"],
        "model": first["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def anthropic_whole(name: str) -> dict[str, Any]:
    """A recorded Anthropic stream as the non-streamed Messages API answer."""
    message: dict[str, Any] = {}
    content: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for event in events(recorded(name)):
        kind = event["type"]
        if kind == "message_start":
            message = dict(event["message"])
        elif kind == "content_block_start":
            content[event["index"]] = dict(event["content_block"])
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                content[event["index"]]["text"] += delta["text"]
            else:
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
        elif kind == "message_delta":
            message.update(event["delta"])
            message["usage"] = {**message["usage"], **event["usage"]}
    for index, text in partial.items():
        content[index]["input"] = json.loads(text) if text else {}
    message["content"] = [content[i] for i in sorted(content)]
    return message


def gemini_whole(name: str) -> dict[str, Any]:
    """A recorded Gemini stream as one generateContent answer (its parts merged)."""
    chunks = events(recorded(name))
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    last = chunks[-1]
    candidate = {**last["candidates"][0], "content": {"parts": parts, "role": "model"}}
    return {**last, "candidates": [candidate]}


@dataclass
class ShapeFakes:
    """The Anthropic- and Gemini-shaped endpoints, and the OpenAI-shaped tool answers. `requests` keeps
    every body received, with the route that got it (so a test can see what litellm sent)."""

    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    delay: float = 0.01  # between two events of a stream

    def routes(self) -> list[Route]:
        return [
            Route("/anthropic/v1/messages", self.anthropic, methods=["POST"]),
            Route("/gemini/v1beta/models/{target:path}", self.gemini, methods=["POST"]),
        ]

    async def openai(self, script: str, stream: bool, cut_after: int | None = None) -> Response:
        name = f"openai_{script}"
        if not stream:
            return JSONResponse(openai_whole(name))
        parts = _send(blocks(recorded(name)), self.delay, cut_after)
        return StreamingResponse(parts, media_type="text/event-stream")

    async def anthropic(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(("anthropic", body))
        script = script_of(body.get("messages", []), bool(body.get("tools")))
        stream = bool(body.get("stream"))
        if script is None:
            return _anthropic_text(stream)
        name = f"anthropic_{script}"
        if not stream:
            return JSONResponse(anthropic_whole(name))
        return StreamingResponse(_send(blocks(recorded(name)), self.delay), media_type="text/event-stream")

    async def gemini(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(("gemini", body))
        stream = request.path_params["target"].endswith(":streamGenerateContent")
        script = gemini_script(body.get("contents", []), bool(body.get("tools")))
        if script is None:
            return _gemini_text(stream)
        name = f"gemini_{script}"
        if not stream:
            return JSONResponse(gemini_whole(name))
        return StreamingResponse(_send(blocks(recorded(name)), self.delay), media_type="text/event-stream")


async def _send(parts: list[str], delay: float = 0.01, cut_after: int | None = None) -> AsyncIterator[str]:
    """The recorded events one by one, a little apart (so a client sees them arrive separately); with
    `cut_after`, the connection drops after that many events, as a provider's can."""
    for sent, part in enumerate(parts):
        if cut_after is not None and sent == cut_after:
            await asyncio.sleep(0.1)
            raise ConnectionResetError("scripted cut")
        yield part
        await asyncio.sleep(delay)


def _anthropic_text(stream: bool) -> Response:
    text = "".join(TEXT_REPLY)
    usage = {"input_tokens": FOLLOW_UP_INPUT, "output_tokens": len(TEXT_REPLY)}
    message = {
        "id": "msg_01TextReply",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    if not stream:
        return JSONResponse(message)
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": FOLLOW_UP_INPUT, "output_tokens": 1},
    }
    sse = [("message_start", {"type": "message_start", "message": start})]
    sse.append(
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
    )
    for piece in TEXT_REPLY:
        delta = {"type": "text_delta", "text": piece}
        sse.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    sse.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    end = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
    sse.append(("message_delta", {**end, "usage": {"output_tokens": len(TEXT_REPLY)}}))
    sse.append(("message_stop", {"type": "message_stop"}))
    parts = [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in sse]
    return StreamingResponse(_send(parts), media_type="text/event-stream")


def _gemini_text(stream: bool) -> Response:
    usage = {
        "promptTokenCount": FOLLOW_UP_INPUT,
        "candidatesTokenCount": len(TEXT_REPLY),
        "totalTokenCount": FOLLOW_UP_INPUT + len(TEXT_REPLY),
    }
    whole = {
        "candidates": [
            {
                "content": {"parts": [{"text": "".join(TEXT_REPLY)}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash",
    }
    if not stream:
        return JSONResponse(whole)
    parts = []
    for i, piece in enumerate(TEXT_REPLY):
        candidate: dict[str, Any] = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}
        if i == len(TEXT_REPLY) - 1:
            candidate["finishReason"] = "STOP"
        parts.append(f"data: {json.dumps({'candidates': [candidate], 'usageMetadata': usage})}\n\n")
    return StreamingResponse(_send(parts), media_type="text/event-stream")


def catalog_lines(root: str, capabilities: str) -> list[str]:
    """The catalog entries reaching these shapes through litellm's own adapters (`anthropic/`,
    `gemini/`), and the fallback chain of the tool tests: `tools-main` (fails when scripted) falls
    back past `tools-nocap` (no capabilities: skipped when a request has tools) to `tools-backup`."""
    lines = [
        "",
        "[providers.fake_anthropic]",
        f'api_base = "{root}/anthropic"',  # litellm appends /v1/messages
        'api_key = "fake-key"',
        "[providers.fake_gemini]",
        f'api_base = "{root}/gemini/v1beta"',  # litellm appends /models/{model}:{method}
        'api_key = "fake-key"',
    ]
    models = [
        ("fake-claude", "fake_anthropic", "anthropic/claude-sonnet-4-5", [], True),
        ("fake-gemini", "fake_gemini", "gemini/gemini-2.5-flash", [], True),
        ("tools-main", "fake_a", "openai/tools-main", ["tools-nocap", "tools-backup"], True),
        ("tools-nocap", "fake_b", "openai/tools-nocap", [], False),
        ("tools-backup", "fake_b", "openai/tools-backup", [], True),
    ]
    for model_id, provider, litellm_model, fallbacks, capable in models:
        lines += [
            "",
            "[[models]]",
            f'id = "{model_id}"',
            f'provider = "{provider}"',
            f'litellm_model = "{litellm_model}"',
            "input_price = 100000",
            "output_price = 200000",
            "context_window = 8192",
            "max_output_tokens = 2048",
            "max_attempts = 1",
            f"fallbacks = {json.dumps(fallbacks)}",
            "timeouts = { connect_s = 5, first_token_s = 10, idle_s = 10, total_s = 30 }",
        ]
        if capable:
            lines.append(capabilities)
    return lines
