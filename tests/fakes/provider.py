"""A scripted OpenAI-compatible provider for tests and benchmarks.

The model name picks the script:
  fake-echo   answers WORDS (one token a word), up to max_tokens; usage is exact and reported
  fake-slow   like echo, but one chunk every 50 ms (for disconnects)
  fake-500    answers 500
  fake-429    answers 429 with Retry-After
  fake-hang   never answers (the caller's timeout fires)
  fake-cut    streams 5 chunks, then drops the connection without a usage chunk
  fake-stall  streams 3 chunks, then goes silent (the caller's idle timeout fires)
Prompt tokens are counted as whitespace-separated words of every message, plus 3 per message.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# Each is one token alone and after a space in common tokenizers, so estimated and reported counts agree.
WORDS = [
    "alpha",
    "delta",
    "echo",
    "hotel",
    "uniform",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "red",
    "blue",
    "green",
    "black",
    "white",
    "cat",
    "dog",
    "sun",
    "moon",
    "star",
]
MODELS = ("fake-echo", "fake-slow", "fake-500", "fake-429", "fake-hang", "fake-cut", "fake-stall")
INPUT_PRICE = 100_000
OUTPUT_PRICE = 200_000


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        total += len(str(content).split()) + 3
    return total


def reply_words(max_tokens: int, limit: int = 12) -> list[str]:
    return [(" " if i else "") + WORDS[i % len(WORDS)] for i in range(min(max_tokens, limit))]


@dataclass
class Call:
    model: str
    stream: bool
    max_tokens: int
    chunks_sent: int = 0
    finished: bool = False
    disconnected: bool = False


@dataclass
class FakeProvider:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    reply_limit: int = 12
    slow_delay: float = 0.05

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ]
        )

    def calls_for(self, model: str) -> list[Call]:
        return [c for c in self.calls if c.model == model]

    def catalog_toml(self, local: bool = True) -> str:
        lines = [
            'default_model = "fake-echo"',
            "",
            "[providers.fake]",
            f'api_base = "{self.base_url}"',
            'api_key = "fake-key"',
        ]
        if local:
            lines += ["[providers.local]", 'api_base_env = "LOCAL_MODEL_URL"']
        for name in MODELS:
            lines += [
                "",
                "[[models]]",
                f'id = "{name}"',
                'provider = "fake"',
                f'litellm_model = "openai/{name}"',
                f"input_price = {INPUT_PRICE}",
                f"output_price = {OUTPUT_PRICE}",
                "context_window = 8192",
                "max_output_tokens = 2048",
                # Short only where the script waits for the timeout; generous elsewhere so a busy machine
                # does not turn a slow stream into a failure.
                f"timeout_s = {2.0 if name in ('fake-hang', 'fake-stall') else 20.0}",
            ]
        if local:
            lines += [
                "",
                "[[models]]",
                'id = "smollm2"',
                'aliases = ["local"]',
                'provider = "local"',
                'litellm_model = "openai/smollm2"',
                "input_price = 1000",
                "output_price = 2000",
                "context_window = 2048",
                "max_output_tokens = 1024",
            ]
        return "\n".join(lines) + "\n"

    async def models(self, _request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model", "")).removeprefix("openai/")
        stream = bool(body.get("stream"))
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        call = Call(model, stream, max_tokens)
        self.calls.append(call)
        if model == "fake-500":
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
        if model == "fake-429":
            return JSONResponse(
                {"error": {"message": "slow down", "type": "rate_limit"}},
                status_code=429,
                headers={"Retry-After": "1"},
            )
        if model == "fake-hang":
            await asyncio.sleep(3600)
        words = reply_words(max_tokens, self.reply_limit if model != "fake-slow" else 4096)
        usage = {"prompt_tokens": prompt_tokens(body.get("messages", [])), "completion_tokens": len(words)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        finish = "length" if len(words) >= max_tokens else "stop"
        if not stream:
            call.chunks_sent = len(words)
            call.finished = True
            return JSONResponse(
                {
                    "id": "chatcmpl-" + uuid.uuid4().hex,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "usage": usage,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(words)},
                            "finish_reason": finish,
                        }
                    ],
                }
            )
        return StreamingResponse(
            self._stream(call, words, usage, finish, body), media_type="text/event-stream"
        )

    async def _stream(
        self, call: Call, words: list[str], usage: dict[str, int], finish: str, body: dict[str, Any]
    ) -> Any:
        cid = "chatcmpl-" + uuid.uuid4().hex

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": call.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            return f"data: {json.dumps(payload)}\n\n"

        try:
            yield chunk({"role": "assistant", "content": ""})
            for i, word in enumerate(words):
                if call.model == "fake-cut" and i == 5:
                    raise ConnectionResetError("scripted cut")
                if call.model == "fake-stall" and i == 3:
                    await asyncio.sleep(3600)
                if call.model == "fake-slow":
                    await asyncio.sleep(self.slow_delay)
                yield chunk({"content": word})
                call.chunks_sent += 1
            yield chunk({}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                final = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "model": call.model,
                    "usage": usage,
                }
                yield f"data: {json.dumps(final)}\n\n"
            yield "data: [DONE]\n\n"
            call.finished = True
        except asyncio.CancelledError:
            call.disconnected = True
            raise
