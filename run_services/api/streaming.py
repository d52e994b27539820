"""Streamed answers that notice a client leaving, or no longer reading: server-sent events (chat, job
progress) and audio.

Leaving: Starlette only notices a disconnect on its next write when the server speaks ASGI 2.4; a model
can be silent for seconds between tokens, and generating for nobody costs money. These responses always
listen for `http.disconnect` beside the writer, cancel the writer when it comes, and close the body
iterator so its cleanup (closing the upstream, settling the hold) runs at once.

Not reading: uvicorn's `send` waits (`flow.drain()`) while the connection's write buffer is over its
high-water mark (64 KiB), so a slow reader pauses the body iterator, and through it our reads from the
provider: nothing piles up in between. A client that stops reading altogether would hold the stream (its
hold, its provider connection) for ever; a write that has not completed after `stall_s` cuts the stream
(`StallWatch`), and `on_stall` lets the source say why before it is closed and settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger("api.streaming")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


class StallWatch:
    """Cancels `scope` when one write has been pending for `limit_s`.

    One timer per stream, not per write (a write costs two attribute stores): it is armed by the first
    write, and when it fires it either cuts (the pending write began `limit_s` ago), re-arms for the
    pending write's own deadline, or lapses (no write pending; the next write arms it again)."""

    def __init__(self, limit_s: float, scope: anyio.CancelScope) -> None:
        self._limit = limit_s
        self._scope = scope
        self._loop = asyncio.get_running_loop()
        self._since: float | None = None  # when the pending write began
        self._timer: asyncio.TimerHandle | None = None
        self.stalled = False

    async def send(self, send: Send, message: Message) -> None:
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._limit, self._check)
        await send(message)
        self._since = None

    def _check(self) -> None:
        self._timer = None
        since = self._since
        if since is None:
            return
        due = since + self._limit
        if self._loop.time() + 0.001 >= due:  # uvloop's timers have millisecond resolution
            self.stalled = True
            self._scope.cancel()
        else:
            self._timer = self._loop.call_at(due, self._check)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class WatchedStreamingResponse(StreamingResponse):
    """A streamed body whose source is closed as soon as the client goes away, or has not taken one
    write for `stall_s` seconds (None: no limit); `on_stall` is called first in that case."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
        *,
        stall_s: float | None = None,
        on_stall: Callable[[], None] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(content, headers=headers, media_type=media_type)
        self._source = content
        self._stall_s = stall_s
        self._on_stall = on_stall
        # Run once the response is over, however it ended, even when the body was never read (a client
        # gone before the first write): a generator that never started runs no `finally` of its own.
        self.closers: list[Callable[[], Awaitable[None]]] = [on_close] if on_close is not None else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as tg:

                async def write() -> None:
                    with contextlib.suppress(OSError):  # the client went away mid-write
                        await self._write(scope, send)
                    tg.cancel_scope.cancel()

                async def watch() -> None:
                    await self.listen_for_disconnect(receive)
                    tg.cancel_scope.cancel()

                tg.start_soon(write)
                tg.start_soon(watch)
        finally:
            with anyio.CancelScope(shield=True):
                for body in (self.body_iterator, self._source):
                    close = getattr(body, "aclose", None)
                    if close is not None:
                        await close()
                for closer in self.closers:
                    try:
                        await closer()
                    except Exception:
                        log.exception(
                            "a streamed response's closer failed", extra={"path": scope.get("path")}
                        )

    async def _write(self, scope: Scope, send: Send) -> None:
        if self._stall_s is None:
            await self.stream_response(send)
            return
        with anyio.CancelScope() as writing:
            watch = StallWatch(self._stall_s, writing)

            async def timed(message: Message) -> None:
                await watch.send(send, message)

            try:
                await self.stream_response(timed)
            finally:
                watch.close()
        if watch.stalled:
            # The connection is left to the server: it closes it once the client reads or goes.
            log.warning(
                "client stalled: stream cut",
                extra={"path": scope.get("path"), "stall_s": self._stall_s, "reason": "client_stalled"},
            )
            if self._on_stall is not None:
                self._on_stall()


class SSEResponse(WatchedStreamingResponse):
    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterator[bytes],
        headers: dict[str, str] | None = None,
        *,
        stall_s: float | None = None,
        on_stall: Callable[[], None] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(
            content,
            headers={**SSE_HEADERS, **(headers or {})},
            stall_s=stall_s,
            on_stall=on_stall,
            on_close=on_close,
        )
