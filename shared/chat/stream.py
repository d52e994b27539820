"""The deltas of an open chat stream; iterating to the end, failing or being cancelled all settle once."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import anyio

from shared.chat.call import Outcome
from shared.chat.guard import CallGuard
from shared.chat.schemas import CallResult
from shared.chat.tools import CallAssembler
from shared.errors import AppError
from shared.gateway.gateway import ModelStream
from shared.gateway.types import Delta, ToolCall, ToolCallDelta
from shared.guardrails.verdict import OutputVerdict

log = logging.getLogger("chat.stream")

Finish = Callable[[Outcome], Awaitable[CallResult]]
# The text so far is kept for the charge of a cut stream; joined every so many deltas, a long answer paused
# by a slow reader holds its characters, not one object per token.
COMPACT_EVERY = 256


@dataclass
class Heartbeat:
    """Extends the call's hold every `every_s` seconds while deltas flow, so a stream that outlives the
    hold's TTL (a slow reader) is never released by the reconciler underneath it."""

    beat: Callable[[], Awaitable[None]]
    every_s: float
    clock: Callable[[], float] = time.monotonic
    last: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.last = self.clock()

    async def maybe(self) -> None:
        if self.clock() - self.last < self.every_s:
            return
        self.last = self.clock()
        try:
            await self.beat()
        except Exception:  # a missed beat is retried at the next delta; the late settle is the backstop
            log.warning("hold heartbeat failed", exc_info=True)


class ChatStream:
    """Wraps the gateway's open stream (its first delta already in). `finish` settles the call; the
    stream is handed it when opened and knows nothing else of the call.

    With a `guard` whose policy screens output, the text goes through its StreamWindow: deltas carry
    the text that passed (often empty while the window fills; the rest comes in one last delta), and a
    `block` ends the stream with `error` set to 400 guardrail_blocked. Tool-call fragments are held back
    and each call is sent whole at the end, once its arguments passed. The call is charged for what the
    provider produced either way."""

    def __init__(
        self,
        upstream: ModelStream,
        deltas: AsyncIterator[Delta],
        first: Delta | None,
        finish: Finish,
        heartbeat: Heartbeat | None = None,
        guard: CallGuard | None = None,
    ) -> None:
        self._upstream = upstream
        self._guard = guard
        self._window = guard.window() if guard is not None else None
        self._shown: list[str] = []  # the text that passed the window
        self._heartbeat = heartbeat
        self._deltas = deltas
        self._first = first
        self._finish = finish
        self._text: list[str] = []
        self._calls = CallAssembler()
        self._held = CallAssembler()  # tool-call fragments held back while the output is screened
        self._logprobs: list[Any] = []  # the tokens' logprobs, when the client asked for them
        self._finish_reason: str | None = None
        self._cut_by: Literal["client_stalled"] | None = None
        self.error: AppError | None = None
        self.result: CallResult | None = None
        self._began = False  # deltas() started, or close() settled a stream nobody read

    def client_stalled(self) -> None:
        """The response gave up on a client that stopped reading: the settle that follows (the stream is
        closed next) records the outcome `client_stalled` instead of `cancelled`."""
        self._cut_by = "client_stalled"

    async def close(self) -> None:
        """Settle a stream nobody iterated: its client left (or stalled) before the response read a delta.
        The first delta was produced, so it is paid for as any cut stream is. A stream that was iterated
        settled itself when `deltas()` ended: then this does nothing. Idempotent."""
        if self._began:
            return
        self._began = True
        if self._first is not None:
            self._text.append(self._first.text)
            self._calls.add(self._first.tool_calls)
        await self._settle(cancelled=True)

    async def deltas(self) -> AsyncGenerator[Delta, None]:
        """Yields deltas; on a provider failure after the first token, stops and sets `error`."""
        if self._began:
            raise RuntimeError("a chat stream is read once")
        self._began = True
        cancelled = True
        try:
            pending = [self._first] if self._first is not None else []
            while True:
                delta = pending.pop() if pending else await anext(self._deltas, None)
                if delta is None:
                    break
                self._text.append(delta.text)
                if len(self._text) >= COMPACT_EVERY:
                    self._text = ["".join(self._text)]
                self._calls.add(delta.tool_calls)
                if delta.logprobs:
                    self._logprobs.extend(delta.logprobs.get("content") or [])
                if delta.finish_reason:
                    self._finish_reason = delta.finish_reason
                if self._heartbeat is not None:
                    await self._heartbeat.maybe()
                if self._guard is not None and (cut := self._guard.cut()) is not None:
                    self.error = cut  # during_call moderation flagged the request: the answer stops here
                    break
                if self._window is not None and delta.tool_calls:
                    self._held.add(delta.tool_calls)
                    delta = replace(delta, tool_calls=())
                    if not delta.text and not delta.logprobs:
                        continue
                if self._window is not None and delta.text:
                    passed = self._screen(self._window.feed(delta.text))
                    if passed is None:
                        break
                    delta = replace(delta, text=passed)
                yield delta
            if self._guard is not None and self.error is None:
                self.error = await self._guard.moderated()
            if self._window is not None and self.error is None:
                rest = self._screen(self._window.finish())
                if rest:
                    yield Delta(rest)
                calls = self._held.result()
                if calls and self.error is None:
                    whole = self._screen_calls(calls)
                    if whole:
                        yield Delta("", tool_calls=whole)
            cancelled = False
        except AppError as exc:
            cancelled = False
            self.error = exc
        finally:
            await self._settle(cancelled)

    async def _settle(self, cancelled: bool) -> None:
        with anyio.CancelScope(shield=True):
            if self._guard is not None and self._guard.beside is not None:
                self._guard.beside.cancel()  # a stream cut short: its verdict no longer matters
            await self._upstream.aclose()
            outcome = Outcome(
                "".join(self._text),
                self._finish_reason,
                self._upstream.usage,
                self.error,
                cancelled,
                self._calls.result(),
                logprobs={"content": self._logprobs} if self._logprobs else None,
                shown="".join(self._shown) if self._window is not None else None,
                cut_by=self._cut_by if cancelled else None,
            )
            self.result = await self._finish(outcome)

    def _screen_calls(self, calls: tuple[ToolCall, ...]) -> tuple[ToolCallDelta, ...]:
        """The held calls, each in one piece, once their arguments passed (else `error` is set)."""
        assert self._guard is not None
        shown, blocked = self._guard.tool_calls(calls)
        if blocked is not None:
            self.error = blocked
            return ()
        return tuple(ToolCallDelta(i, c.id, c.name, c.arguments) for i, c in enumerate(shown))

    def _screen(self, verdict: OutputVerdict) -> str | None:
        """The text a window step lets through, or None when it blocked (then `error` is set)."""
        assert self._guard is not None
        self._guard.add(verdict.hits)
        if verdict.blocked is not None:
            self.error = verdict.blocked.error()
            return None
        self._shown.append(verdict.text)
        return verdict.text
