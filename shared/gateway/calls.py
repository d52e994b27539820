"""One attempt on one deployment, through litellm, under the attempt's timeouts; and token counts.

litellm is imported only inside shared/gateway/, and only when first needed (shared/gateway/lazy.py): here
for chat attempts through it, in embeddings.py, images.py, moderation.py, speech.py, transcription.py and
video.py for those endpoints; errors.py and retry.py test its exception types only once it is loaded.
Token counts use tiktoken directly (tokenizer.py), with litellm's counter only for the models whose
tokenizer it picks otherwise. Errors are raised as litellm (or asyncio) raised them, so the
router can classify them with the provider's status and Retry-After; the router translates them
into our errors. A stream is returned only once its first delta has
arrived (or the provider ended it without any), so "before the first token" is a clean boundary.

Timeouts per attempt: connect (passed to the HTTP client as httpx.Timeout; litellm honours it for
OpenAI-style clients, other providers get the total), first token (from the request to the
first delta, or to the whole answer when not streaming), idle (the gap between two deltas) and
total (the whole attempt). A timeout raises TimeoutError, which the router treats as retryable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from shared.catalog.catalog import Deployment, ModelSpec
from shared.gateway import tokenizer
from shared.gateway.errors import translate
from shared.gateway.inline import ImageInliner
from shared.gateway.lazy import is_loaded, load_litellm
from shared.gateway.parts import split_media
from shared.gateway.types import (
    PASSTHROUGH,
    TOOL_PARAMS,
    Answer,
    Candidate,
    Completion,
    Delta,
    Served,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.gateway.native.lane import NativeLane
    from shared.gateway.native.wire import Wire


OnFailure = Callable[[BaseException], Awaitable[None]]


def count_prompt(
    spec: ModelSpec, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
) -> int:
    """The prompt's tokens: the text of its messages (tool calls and results included), the tool
    definitions, plus an estimate for its images, audio and files (shared/gateway/parts.py)."""
    text, media = split_media(spec, messages)
    return tokenizer.count_messages(spec.litellm_model, text, tools) + media


def count_text(spec: ModelSpec, text: str) -> int:
    if not text:
        return 0
    return tokenizer.count_text(spec.litellm_model, text)


def count_rough(text: str) -> int:
    """One common tokenizer for every model: the `auto` rule's thresholds are rough sizes."""
    return tokenizer.count_text("", text) if text else 0


@dataclass(frozen=True)
class Limits:
    connect_s: float
    first_token_s: float
    idle_s: float
    total_s: float

    @classmethod
    def for_model(cls, spec: ModelSpec, settings: Settings) -> Limits:
        t = spec.timeouts
        total = t.total_s or spec.timeout_s or settings.provider_timeout_s
        return cls(
            connect_s=min(t.connect_s or settings.gateway_connect_timeout_s, total),
            first_token_s=min(t.first_token_s or settings.gateway_first_token_timeout_s, total),
            idle_s=min(t.idle_s or settings.gateway_idle_timeout_s, total),
            total_s=total,
        )


def usage_of(raw: Any) -> Usage | None:
    """Our Usage from litellm's (None when the provider did not report completion tokens)."""
    if raw is None or getattr(raw, "completion_tokens", None) is None:
        return None
    # litellm's prompt_tokens include cached ones (Anthropic's cache reads and writes, OpenAI's and
    # DeepSeek's cached_tokens); reads are in prompt_tokens_details.cached_tokens or Anthropic's
    # cache_read_input_tokens, writes in cache_creation_input_tokens.
    details = getattr(raw, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    written = int(getattr(details, "cache_write_tokens", None) or 0) if details is not None else 0
    read = int(getattr(raw, "cache_read_input_tokens", None) or 0) or cached
    write = int(getattr(raw, "cache_creation_input_tokens", None) or 0) or written
    return Usage(int(raw.prompt_tokens or 0), int(raw.completion_tokens), True, read, write)


def tool_call_deltas(raw: Any) -> tuple[ToolCallDelta, ...]:
    """litellm's streamed tool-call pieces as ours (id and name where the provider sent them)."""
    out = []
    for position, call in enumerate(raw or ()):
        function = getattr(call, "function", None)
        index = getattr(call, "index", None)
        out.append(
            ToolCallDelta(
                index=position if index is None else int(index),
                id=getattr(call, "id", None) or None,
                name=getattr(function, "name", None) or None,
                arguments=getattr(function, "arguments", None) or "",
            )
        )
    return tuple(out)


def whole_tool_calls(raw: Any) -> tuple[ToolCall, ...]:
    """The calls of a whole (non-streamed) answer."""
    out = []
    for call in raw or ():
        function = getattr(call, "function", None)
        name = getattr(function, "name", None) or ""
        out.append(ToolCall(str(call.id), name, getattr(function, "arguments", None) or ""))
    return tuple(out)


def logprobs_of(choice: Any) -> dict[str, Any] | None:
    """A choice's `logprobs` as plain data (OpenAI's shape), or None when the provider sent none."""
    raw = getattr(choice, "logprobs", None)
    if raw is None:
        return None
    data = raw.model_dump() if hasattr(raw, "model_dump") else raw
    return data if isinstance(data, dict) and any(data.values()) else None


class ModelStream:
    """An open upstream stream whose first delta has already arrived. Iterate for deltas; `usage`
    is set once the provider reports it. A failure while iterating is raised as our AppError, after
    `on_failure` (given by whoever opened it: the router counts it against the deployment) has seen it."""

    def __init__(
        self,
        upstream: Any,
        served: Served,
        limits: Limits,
        deadline: float,
        on_failure: OnFailure | None = None,
    ) -> None:
        self._upstream = upstream
        self._iter = upstream.__aiter__()
        self.served = served
        self._limits = limits
        self._deadline = deadline
        # The first delta is due first_token_s after the request was sent (opening included).
        self._first_due = deadline - limits.total_s + limits.first_token_s
        self._first: Delta | None = None
        self._ended = False
        self._on_failure = on_failure
        self.usage: Usage | None = None

    @property
    def provider(self) -> str:
        return self.served.deployment.provider

    async def next_raw(self) -> Delta | None:
        """The next delta, raw provider errors and TimeoutError included; None at the end."""
        while not self._ended:
            now = time.monotonic()
            left = self._deadline - now
            if left <= 0:
                raise TimeoutError("the attempt's total time ran out")
            gap = self._limits.idle_s if self._first is not None else max(0.0, self._first_due - now)
            wait = min(gap, left)
            try:
                chunk = await asyncio.wait_for(self._iter.__anext__(), wait)
            except StopAsyncIteration:
                self._ended = True
                return None
            delta = self.read(chunk)
            if delta is not None:
                return delta
        return None

    def read(self, chunk: Any) -> Delta | None:
        """One upstream chunk (litellm's): its usage kept, its first choice with content as a Delta."""
        usage = usage_of(getattr(chunk, "usage", None))
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices or ():
            text = getattr(choice.delta, "content", None) or ""
            calls = tool_call_deltas(getattr(choice.delta, "tool_calls", None))
            logprobs = logprobs_of(choice)
            if text or choice.finish_reason or calls or logprobs:
                return Delta(text, choice.finish_reason, calls, logprobs)
        return None

    async def prime(self) -> None:
        """Wait for the first delta (or the end) within the first-token limit."""
        self._first = await self.next_raw() or Delta("", None)

    def __aiter__(self) -> AsyncIterator[Delta]:
        return self._deltas()

    async def _deltas(self) -> AsyncIterator[Delta]:
        first = self._first
        if first is not None and (first.text or first.finish_reason or first.tool_calls):
            yield first
        while True:
            try:
                delta = await self.next_raw()
            except Exception as exc:
                if self._on_failure is not None:
                    await self._on_failure(exc)
                raise translate(exc, self.provider) from exc
            if delta is None:
                return
            yield delta

    async def aclose(self) -> None:
        """Close the upstream connection: the provider sees the disconnect and stops generating."""
        close = getattr(self._upstream, "aclose", None)
        if close is not None:
            await close()


class Caller:
    """Makes single attempts. The router decides which, how often and in what order. An attempt on an
    OpenAI-wire deployment goes through the native lane (shared/gateway/native/) unless the settings turn
    it off (NATIVE_LANE=0); every other one through litellm."""

    def __init__(self, settings: Settings, images: ImageInliner | None = None) -> None:
        """`images` inlines https images for the providers that need their bytes (shared/gateway/inline.py);
        without it such a provider answers 400 for an https image URL."""
        self.settings = settings
        self.images = images or ImageInliner(None, settings.max_image_bytes)
        self.native: NativeLane | None = None
        if settings.native_lane:
            from shared.gateway.native.lane import NativeLane  # it builds on this module

            self.native = NativeLane(settings)

    def _wire(self, deployment: Deployment) -> Wire | None:
        """The native lane's call for `deployment` (shared/gateway/native/), or None: through litellm."""
        return self.native.wire(deployment) if self.native is not None else None

    async def _wire_ready(self, deployment: Deployment) -> Wire | None:
        """`_wire`. A model missing from the native lane's parameter table (native/params.json) is looked
        up in litellm: imported in a worker thread first if it is not yet, so the event loop keeps serving."""
        if self.native is not None and not is_loaded() and self.native.needs_litellm(deployment):
            await load_litellm()
        return self._wire(deployment)

    async def aclose(self) -> None:
        if self.native is not None:
            await self.native.aclose()

    def args(
        self,
        deployment: Deployment,
        messages: list[dict[str, Any]],
        max_tokens: int,
        params: dict[str, Any],
        limits: Limits,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": deployment.litellm_model,
            "messages": messages,
            "max_tokens": max_tokens,
            "timeout": httpx.Timeout(limits.total_s, connect=limits.connect_s),
            "num_retries": 0,
            "max_retries": 0,
        }
        if deployment.api_base:
            args["api_base"] = deployment.api_base
        if deployment.api_key or not deployment.litellm_model.startswith("vertex_ai/"):
            args["api_key"] = deployment.api_key or "no-key"
        args.update(dict(deployment.params))
        args.update({k: v for k, v in params.items() if k in PASSTHROUGH and v is not None})
        tools = {k: params[k] for k in TOOL_PARAMS if params.get(k) is not None}
        if tools:
            # litellm imports its MCP gateway for any request with tools unless told not to; we have none.
            args.update(tools, _skip_mcp_handler=True)
        return args

    async def complete(
        self, candidate: Candidate, served: Served, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> Completion:
        """One non-streaming attempt; usage the provider did not report is estimated (`reported` False)."""
        limits = Limits.for_model(served.spec, self.settings)
        messages = await self.images.prepare(served.deployment, messages)
        wire = await self._wire_ready(served.deployment)
        deployment, limit = served.deployment, candidate.max_tokens
        if self.native is not None and wire is not None:
            call = self.native.complete(wire, deployment, messages, limit, params, limits)
        else:
            call = self._through_litellm(deployment, messages, limit, params, limits)
        answer = await asyncio.wait_for(call, limits.total_s)
        usage = answer.usage
        if usage is None:
            written = answer.text + "".join(c.name + c.arguments for c in answer.tool_calls)
            usage = Usage(candidate.input_tokens, count_text(served.spec, written), False)
        return Completion(
            answer.text, answer.finish_reason, usage, served, answer.tool_calls, answer.logprobs
        )

    async def _through_litellm(
        self,
        deployment: Deployment,
        messages: list[dict[str, Any]],
        max_tokens: int,
        params: dict[str, Any],
        limits: Limits,
    ) -> Answer:
        module = await load_litellm()
        response = await module.acompletion(**self.args(deployment, messages, max_tokens, params, limits))
        choice = response.choices[0]
        return Answer(
            choice.message.content or "",
            choice.finish_reason,
            whole_tool_calls(getattr(choice.message, "tool_calls", None)),
            usage_of(getattr(response, "usage", None)),
            logprobs_of(choice),
        )

    async def open_stream(
        self,
        candidate: Candidate,
        served: Served,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        on_failure: OnFailure | None = None,
    ) -> ModelStream:
        """One streaming attempt, returned once its first delta is in (or it ended without one)."""
        limits = Limits.for_model(served.spec, self.settings)
        messages = await self.images.prepare(served.deployment, messages)
        deadline = time.monotonic() + limits.total_s
        wire = await self._wire_ready(served.deployment)
        stream: ModelStream
        if self.native is not None and wire is not None:
            from shared.gateway.native.lane import NativeStream

            deployment, limit = served.deployment, candidate.max_tokens
            opening = self.native.open(wire, deployment, messages, limit, params, limits)
            native = await asyncio.wait_for(opening, limits.first_token_s)
            stream = NativeStream(native, served, limits, deadline, on_failure)
        else:
            args = self.args(served.deployment, messages, candidate.max_tokens, params, limits)
            args.update(stream=True, stream_options={"include_usage": True})
            module = await load_litellm()  # before the clock: a cold import is not the provider's delay
            upstream = await asyncio.wait_for(module.acompletion(**args), limits.first_token_s)
            stream = ModelStream(upstream, served, limits, deadline, on_failure)
        try:
            await stream.prime()
        except BaseException:
            await stream.aclose()
            raise
        return stream
