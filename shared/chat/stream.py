"""The deltas of an open chat stream; iterating to the end, failing or being cancelled all settle once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from shared.chat.call import Outcome
from shared.chat.schemas import CallResult
from shared.errors import AppError
from shared.gateway.gateway import ModelStream
from shared.gateway.types import Delta

Finish = Callable[[Outcome], Awaitable[CallResult]]


class ChatStream:
    """Wraps the gateway's open stream (its first delta already in). `finish` settles the call; the
    stream is handed it when opened and knows nothing else of the call."""

    def __init__(
        self, upstream: ModelStream, deltas: AsyncIterator[Delta], first: Delta | None, finish: Finish
    ) -> None:
        self._upstream = upstream
        self._deltas = deltas
        self._first = first
        self._finish = finish
        self._text: list[str] = []
        self._finish_reason: str | None = None
        self.error: AppError | None = None
        self.result: CallResult | None = None

    async def deltas(self) -> AsyncIterator[Delta]:
        """Yields deltas; on a provider failure after the first token, stops and sets `error`."""
        cancelled = True
        try:
            pending = [self._first] if self._first is not None else []
            while True:
                delta = pending.pop() if pending else await anext(self._deltas, None)
                if delta is None:
                    break
                self._text.append(delta.text)
                if delta.finish_reason:
                    self._finish_reason = delta.finish_reason
                yield delta
            cancelled = False
        except AppError as exc:
            cancelled = False
            self.error = exc
        finally:
            with anyio.CancelScope(shield=True):
                await self._upstream.aclose()
                outcome = Outcome(
                    "".join(self._text), self._finish_reason, self._upstream.usage, self.error, cancelled
                )
                self.result = await self._finish(outcome)
