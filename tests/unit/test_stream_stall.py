"""The stall limit of a streamed response (run_services/api/streaming.py): one write pending for
`stall_s` cuts the stream; slow writes that each complete, and quiet gaps between writes, do not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.types import Message

from run_services.api.streaming import SSEResponse

pytestmark = pytest.mark.anyio


class Source:
    """A body of `n` events, `gap_s` apart, that notes how far it got and whether it was closed."""

    def __init__(self, n: int, gap_s: float = 0.0) -> None:
        self.n, self.gap_s = n, gap_s
        self.made = 0
        self.closed = False

    async def events(self) -> AsyncIterator[bytes]:
        try:
            for i in range(self.n):
                if self.gap_s:
                    await asyncio.sleep(self.gap_s)
                self.made += 1
                yield f"data: {i}\n\n".encode()
        finally:
            self.closed = True


class Client:
    """The ASGI side: each body write takes `write_s`; from write `blocks_at` on, a write never ends
    (uvicorn's `send` waiting on `flow.drain()` for a client that reads nothing)."""

    def __init__(self, write_s: float = 0.0, blocks_at: int | None = None) -> None:
        self.write_s, self.blocks_at = write_s, blocks_at
        self.bodies: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            return
        if self.blocks_at is not None and len(self.bodies) >= self.blocks_at:
            await asyncio.Event().wait()
        if self.write_s:
            await asyncio.sleep(self.write_s)
        self.bodies.append(message.get("body", b""))

    async def receive(self) -> Message:
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError("unreachable")


async def serve(source: Source, client: Client, stall_s: float) -> list[str]:
    stalls: list[str] = []
    response = SSEResponse(source.events(), stall_s=stall_s, on_stall=lambda: stalls.append("stalled"))
    scope = {"type": "http", "path": "/v1/chat/completions", "asgi": {"spec_version": "2.4"}}
    await asyncio.wait_for(response(scope, client.receive, client.send), 10)
    return stalls


async def test_a_write_pending_past_the_limit_cuts_the_stream_and_closes_its_source() -> None:
    source, client = Source(1000), Client(blocks_at=3)
    assert await serve(source, client, stall_s=0.2) == ["stalled"]
    assert len(client.bodies) == 3 and source.made == 4  # the fourth event waited on the client, no more
    assert source.closed


async def test_slow_writes_that_each_complete_are_not_a_stall() -> None:
    """The writes together last longer than the limit: the timer re-arms for the pending write."""
    source, client = Source(12), Client(write_s=0.05)
    assert await serve(source, client, stall_s=0.3) == []
    assert len(client.bodies) == 13  # 12 events and the empty last body
    assert source.closed


async def test_a_quiet_model_between_writes_is_not_a_stall() -> None:
    """No write pending while the source waits (a model thinking): the timer lapses and re-arms later."""
    source, client = Source(3, gap_s=0.3), Client()
    assert await serve(source, client, stall_s=0.2) == []
    assert len(client.bodies) == 4
