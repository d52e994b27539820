"""Streamed answers that notice a client leaving: server-sent events (chat, job progress) and audio.

Starlette only notices a disconnect on its next write when the server speaks ASGI 2.4; a model can
be silent for seconds between tokens, and generating for nobody costs money. These responses always
listen for `http.disconnect` beside the writer, cancel the writer when it comes, and close the
body iterator so its cleanup (closing the upstream, settling the hold) runs at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


class WatchedStreamingResponse(StreamingResponse):
    """A streamed body whose source is closed as soon as the client goes away."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(content, headers=headers, media_type=media_type)
        self._source = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as tg:

                async def write() -> None:
                    with contextlib.suppress(OSError):  # the client went away mid-write
                        await self.stream_response(send)
                    tg.cancel_scope.cancel()

                async def watch() -> None:
                    await self.listen_for_disconnect(receive)
                    tg.cancel_scope.cancel()

                tg.start_soon(write)
                tg.start_soon(watch)
        finally:
            close = getattr(self._source, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()


class SSEResponse(WatchedStreamingResponse):
    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> None:
        super().__init__(content, headers={**SSE_HEADERS, **(headers or {})})
