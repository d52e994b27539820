"""A scripted OpenAI-compatible provider for tests and benchmarks.

The model name picks the script:
  fake-echo   answers WORDS (one token a word), up to max_tokens; usage is exact and reported
  fake-slow   like echo, but one chunk every 50 ms (for disconnects)
  fake-long   like echo, but max_tokens words (up to LONG_MAX_TOKENS), as fast as they are read (backpressure)
  fake-500    answers 500
  fake-429    answers 429 with Retry-After
  fake-hang   never answers (the caller's timeout fires)
  fake-cut    streams 5 chunks, then drops the connection without a usage chunk
  fake-stall  streams 3 chunks, then goes silent (the caller's idle timeout fires)
  fake-basic  like echo, but its catalog entry has no capabilities (no tools, images, response_format)
Every other fake model has every capability of the catalog (shared/catalog/catalog.py CAPABILITIES).
Echo: a request whose last user message contains `[[echo]]` is answered with that message's text (the
directive removed), word by word, as the provider received it (the guardrail tests see what was masked).
Tool calls: a request with `tools` and `[[tools:single]]` or `[[tools:parallel]]` in its last user message
gets a recorded OpenAI tool-call stream (tests/fakes/tool_streams.py, which also serves the Anthropic- and
Gemini-shaped endpoints and their catalog models: fake-claude, fake-gemini, tools-main/-nocap/-backup).
Prompt tokens are counted as whitespace-separated words of every message's text, plus 3 per message and
IMAGE_TOKENS per image part. Every request's body is kept (`Call.body`), so a test can assert what the
provider saw (image parts, response_format, logprobs, ...). With `logprobs: true` the answer carries
OpenAI's logprobs for each word (`word_logprobs`), in the message and in each streamed chunk.

A fleet: the same app answers as several providers, `/v1/...` ("fake") and `/<name>/v1/...` for each
name in FLEET ("fake_a", "fake_b"), so one model can have deployments on two providers. Every call
records the provider it reached (`calls_for(model, provider)`).

Scripted faults (class Fault, tests/fakes/faults.py), programmed per model (and optionally per provider) with
`program(model, *faults, provider=None)`: each request takes the next one, `None` answers normally;
`fail_first(model, k, fault)` fails k requests then succeeds; `always(model, fault)` until `reset()`.
A single request can also carry its fault in its last user message: `[[fault:429 retry_after=2]]`
(kinds: a status code, `hang`, `slow`, `cut`, `stall`; options retry_after, after, delay).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared.catalog.catalog import CAPABILITIES
from tests.fakes.embeddings import FakeEmbeddings
from tests.fakes.faults import DIRECTIVE, LEGACY_FAULTS, Fault
from tests.fakes.moderation import FakeModeration
from tests.fakes.tool_streams import ShapeFakes, catalog_lines, script_of

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
MODELS = (
    "fake-echo",
    "fake-slow",
    "fake-500",
    "fake-429",
    "fake-hang",
    "fake-cut",
    "fake-stall",
    "fake-basic",
    "fake-long",
)
# The legacy scripted fault models fail on every request: one attempt each, no fallback.
FAULT_MODELS = ("fake-500", "fake-429", "fake-hang", "fake-cut", "fake-stall")
FLEET = ("fake_a", "fake_b")
# Models of the router tests: deployments on the fleet, fallbacks, limits (see catalog_toml).
FLEET_MODELS = (
    "fleet-main",
    "fleet-backup",
    "fleet-lb",
    "fleet-rpm",
    "fleet-cheap",
    "fleet-pricey",
    "fleet-solo",
    "fleet-solo-backup",
    "fleet-strong",
    "fleet-cache",
)
FLEET_PRICES = {
    "fleet-backup": (50_000, 100_000),
    "fleet-pricey": (1_000_000, 2_000_000),
    "fleet-strong": (300_000, 600_000),
}
CACHE_READ_PRICE = 10_000
CACHE_WRITE_PRICE = 125_000
ALL_CAPABILITIES = f"capabilities = {json.dumps(sorted(CAPABILITIES))}"
INPUT_PRICE = 100_000
OUTPUT_PRICE = 200_000
LONG_MAX_TOKENS = 100_000  # fake-long's max_output_tokens: a stream longer than any socket buffer
IMAGE_TOKENS = 85  # what the fake reports per image part (OpenAI's low-detail figure)


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):
            images = sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
            total += IMAGE_TOKENS * images
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        total += len(str(content).split()) + 3
    return total


def word_logprobs(word: str, index: int, top: int) -> dict[str, Any]:
    """OpenAI's logprobs entry for one answered word, with `top` alternatives."""
    logprob = -0.01 * (index + 1)
    alternatives = [{"token": word, "logprob": logprob, "bytes": list(word.encode())}]
    alternatives += [
        {"token": f" alt{k}", "logprob": logprob - k, "bytes": list(f" alt{k}".encode())}
        for k in range(1, top)
    ]
    return {
        "token": word,
        "logprob": logprob,
        "bytes": list(word.encode()),
        "top_logprobs": alternatives[:top],
    }


ECHO = "[[echo]]"


def echo_words(messages: list[dict[str, Any]], max_tokens: int) -> list[str] | None:
    """The last user message's words (each after its space) when it asks for an echo, else None."""
    users = [m for m in messages if m.get("role") == "user"]
    text = str(users[-1].get("content")) if users else ""
    if ECHO not in text:
        return None
    return [(" " if i else "") + w for i, w in enumerate(text.replace(ECHO, "").split())][:max_tokens]


def reply_words(max_tokens: int, limit: int = 12) -> list[str]:
    return [(" " if i else "") + WORDS[i % len(WORDS)] for i in range(min(max_tokens, limit))]


class LongWords(Sequence[str]):
    """reply_words(n, n) made as they are read: a thousand long answers at once (the slow-reader bench)
    must not each hold a list of their words."""

    def __init__(self, n: int) -> None:
        self._n = n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not 0 <= i < self._n:
            raise IndexError(i)
        return (" " if i else "") + WORDS[i % len(WORDS)]


@dataclass
class Call:
    model: str
    stream: bool
    max_tokens: int
    chunks_sent: int = 0
    finished: bool = False
    disconnected: bool = False
    provider: str = "fake"
    fault: Fault | None = None
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeProvider:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    reply_limit: int = 12
    slow_delay: float = 0.05
    # (provider or None for any, model) -> faults to hand out in order / for every request.
    scripts: dict[tuple[str | None, str], list[Fault | None]] = field(default_factory=dict)
    persistent: dict[tuple[str | None, str], Fault] = field(default_factory=dict)
    # Prompt-cache usage to report per model: (cached tokens read, tokens written).
    cache_usage: dict[str, tuple[int, int]] = field(default_factory=dict)
    shapes: ShapeFakes = field(default_factory=ShapeFakes)
    embeddings: FakeEmbeddings = field(default_factory=FakeEmbeddings)  # /v1/embeddings (its own file)
    moderation: FakeModeration = field(default_factory=FakeModeration)  # /v1/moderations

    def __post_init__(self) -> None:
        routes = [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings.handle, methods=["POST"]),
            Route("/v1/moderations", self.moderation.handle, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            *self.shapes.routes(),
        ]
        for name in FLEET:
            routes.append(Route(f"/{name}/v1/chat/completions", self.chat, methods=["POST"]))
        self.app = Starlette(routes=routes)

    def calls_for(self, model: str, provider: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.model == model and (provider is None or c.provider == provider)]

    def program(self, model: str, *faults: Fault | None, provider: str | None = None) -> None:
        """The next requests for `model` (on `provider`, or on any) take these faults in order."""
        self.scripts.setdefault((provider, model), []).extend(faults)

    def fail_first(self, model: str, k: int, fault: Fault, provider: str | None = None) -> None:
        self.program(model, *([fault] * k), provider=provider)

    def always(self, model: str, fault: Fault, provider: str | None = None) -> None:
        self.persistent[(provider, model)] = fault

    def reset(self) -> None:
        self.scripts.clear()
        self.persistent.clear()
        self.cache_usage.clear()

    def _fault_for(self, provider: str, model: str, body: dict[str, Any]) -> Fault | None:
        messages = body.get("messages") or []
        users = [m for m in messages if m.get("role") == "user"]
        if users:
            found = DIRECTIVE.search(str(users[-1].get("content")))
            if found:
                return Fault.parse(found.group(1))
        for key in ((provider, model), (None, model)):
            queue = self.scripts.get(key)
            if queue:
                return queue.pop(0)
        for key in ((provider, model), (None, model)):
            if key in self.persistent:
                return self.persistent[key]
        return LEGACY_FAULTS.get(model)

    def catalog_toml(self, local: bool = True) -> str:
        lines = [
            'default_model = "fake-echo"',
            "",
            "[providers.fake]",
            f'api_base = "{self.base_url}"',
            'api_key = "fake-key"',
        ]
        root = self.base_url.removesuffix("/v1")
        for fleet_name in FLEET:
            lines += [f"[providers.{fleet_name}]", f'api_base = "{root}/{fleet_name}/v1"']
            lines.append('api_key = "fake-key"')
        if local:
            lines += ["[providers.local]", 'api_base_env = "LOCAL_MODEL_URL"']
        lines += [
            "",
            "[auto]",
            'cheap = "fake-echo"',
            'strong = "fleet-strong"',
            "max_cheap_prompt_tokens = 60",
            'strong_keywords = ["prove", "step by step", "code"]',
            "strong_if_system_prompt_longer_than = 40",
        ]
        for name in FLEET_MODELS:
            lines += self._fleet_model(name)
        for name in MODELS:
            # Short only where the script waits for the timeout; generous elsewhere so a busy machine does
            # not turn a slow stream into a failure; fake-long's readers may pause it for minutes.
            timeout = {"fake-hang": 2.0, "fake-stall": 2.0, "fake-long": 600.0}.get(name, 20.0)
            lines += [
                "",
                "[[models]]",
                f'id = "{name}"',
                'provider = "fake"',
                f'litellm_model = "openai/{name}"',
                f"input_price = {INPUT_PRICE}",
                f"output_price = {OUTPUT_PRICE}",
                f"context_window = {2 * LONG_MAX_TOKENS if name == 'fake-long' else 8192}",
                f"max_output_tokens = {LONG_MAX_TOKENS if name == 'fake-long' else 2048}",
                f"timeout_s = {timeout}",
            ]
            if name == "fake-echo":
                lines.append('aliases = ["echo-latest"]')
            if name in FAULT_MODELS:
                lines.append("max_attempts = 1")
            if name != "fake-basic":
                lines.append(ALL_CAPABILITIES)
        lines += catalog_lines(root, ALL_CAPABILITIES)
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
        lines += self.embeddings.catalog_lines(local)
        return "\n".join(lines) + "\n"

    def _fleet_model(self, name: str) -> list[str]:
        """One router-test model: two deployments (fake_a, fake_b) unless it says otherwise."""
        input_price, output_price = FLEET_PRICES.get(name, (INPUT_PRICE, OUTPUT_PRICE))
        fallbacks = {
            "fleet-main": ["fleet-backup"],
            "fleet-cheap": ["fleet-pricey"],
            "fleet-solo": ["fleet-solo-backup"],
        }.get(name, [])
        deployments: list[tuple[str, int | None]] = [("fake_a", None), ("fake_b", None)]
        if name == "fleet-rpm":
            deployments = [("fake_a", 2), ("fake_b", None)]
        elif name not in ("fleet-main", "fleet-lb", "fleet-rpm"):
            deployments = [("fake_a" if name != "fleet-backup" else "fake_b", None)]
        lines = [
            "",
            "[[models]]",
            f'id = "{name}"',
            f'litellm_model = "openai/{name}"',
            f"input_price = {input_price}",
            f"output_price = {output_price}",
            "context_window = 8192",
            "max_output_tokens = 2048",
            "max_attempts = 2",
            f"fallbacks = {json.dumps(fallbacks)}",
            # Generous: a busy test machine must not turn a normal answer into a timeout.
            "timeouts = { connect_s = 5, first_token_s = 10, idle_s = 10, total_s = 30 }",
            ALL_CAPABILITIES,
        ]
        if name == "fleet-cache":
            lines += [f"cache_read_price = {CACHE_READ_PRICE}", f"cache_write_price = {CACHE_WRITE_PRICE}"]
        for provider, rpm in deployments:
            lines += ["[[models.deployments]]", f'provider = "{provider}"']
            if rpm is not None:
                lines.append(f"rpm = {rpm}")
        return lines

    async def models(self, _request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model", "")).removeprefix("openai/")
        stream = bool(body.get("stream"))
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        first = request.url.path.strip("/").split("/")[0]
        provider = first if first in FLEET else "fake"
        fault = self._fault_for(provider, model, body)
        call = Call(model, stream, max_tokens, provider=provider, fault=fault, body=body)
        self.calls.append(call)
        if fault is not None and fault.kind == "status":
            call.status = fault.status
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            error = fault.body or {"error": {"message": f"scripted {fault.status}", "type": "server_error"}}
            return JSONResponse(error, status_code=fault.status, headers=headers)
        if fault is not None and fault.kind == "hang":
            await asyncio.sleep(3600)
        if fault is not None and fault.kind == "late":
            await asyncio.sleep(fault.delay)
        script = script_of(body.get("messages", []), bool(body.get("tools")))
        if script is not None:
            call.finished = True
            cut = fault.after if fault is not None and fault.kind == "cut" else None
            return await self.shapes.openai(script, stream, cut)
        slow = fault is not None and fault.kind == "slow"
        echoed = echo_words(body.get("messages", []), max_tokens)
        words: Sequence[str]
        if echoed is not None:
            words = echoed
        elif model == "fake-long":
            words = LongWords(max_tokens)
        else:
            words = reply_words(max_tokens, self.reply_limit if not slow else 4096)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens(body.get("messages", [])),
            "completion_tokens": len(words),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if model in self.cache_usage:
            read, write = self.cache_usage[model]
            usage["prompt_tokens_details"] = {"cached_tokens": read}
            usage["cache_read_input_tokens"] = read
            usage["cache_creation_input_tokens"] = write
        finish = "length" if len(words) >= max_tokens else "stop"
        logprobs = None
        if body.get("logprobs"):
            top = int(body.get("top_logprobs") or 0)
            logprobs = {"content": [word_logprobs(w, i, top) for i, w in enumerate(words)], "refusal": None}
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
                            "logprobs": logprobs,
                            "finish_reason": finish,
                        }
                    ],
                }
            )
        return StreamingResponse(
            self._stream(call, words, usage, finish, body), media_type="text/event-stream"
        )

    async def _stream(
        self, call: Call, words: Sequence[str], usage: dict[str, int], finish: str, body: dict[str, Any]
    ) -> Any:
        cid = "chatcmpl-" + uuid.uuid4().hex

        def chunk(
            delta: dict[str, Any], finish_reason: str | None = None, logprobs: dict[str, Any] | None = None
        ) -> str:
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            if logprobs is not None:
                choice["logprobs"] = logprobs
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": call.model,
                "choices": [choice],
            }
            return f"data: {json.dumps(payload)}\n\n"

        fault = call.fault
        try:
            yield chunk({"role": "assistant", "content": ""})
            for i, word in enumerate(words):
                if fault is not None and fault.kind == "cut" and i == fault.after:
                    if i:  # let the client read what was sent: a reset may drop its unread bytes
                        await asyncio.sleep(0.1)
                    raise ConnectionResetError("scripted cut")
                if fault is not None and fault.kind == "stall" and i == fault.after:
                    await asyncio.sleep(3600)
                if fault is not None and fault.kind == "slow":
                    await asyncio.sleep(self.slow_delay if call.model == "fake-slow" else fault.delay)
                entry = None
                if body.get("logprobs"):
                    entry = {"content": [word_logprobs(word, i, int(body.get("top_logprobs") or 0))]}
                yield chunk({"content": word}, logprobs=entry)
                call.chunks_sent += 1  # counted once the server took it: uvicorn waits while the reader lags
                if call.model == "fake-long":
                    await asyncio.sleep(0)  # a long answer must not hold the loop from other calls
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
