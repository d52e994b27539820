"""A streamed answer whose body is never read (the client left before the first write) still settles and
frees its stream slot: a generator that never started runs no `finally`, so the response runs its closers
and `ChatStream.close()` settles the call for the first delta, which the provider did produce."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from starlette.types import Message

from run_services.api.streaming import SSEResponse
from shared.chat.call import Outcome
from shared.chat.schemas import CallResult
from shared.chat.stream import ChatStream
from shared.gateway.types import Delta

pytestmark = pytest.mark.anyio


class Upstream:
    usage = None

    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def more() -> AsyncIterator[Delta]:
    yield Delta("second ", None)
    yield Delta("third", None)


def chat_stream(settled: list[Outcome]) -> tuple[ChatStream, Upstream]:
    async def finish(outcome: Outcome) -> CallResult:
        settled.append(outcome)
        return cast(CallResult, outcome)

    upstream = Upstream()
    return ChatStream(cast(Any, upstream), more(), Delta("first ", None), finish), upstream


async def test_close_settles_a_stream_nobody_read_for_its_first_delta() -> None:
    settled: list[Outcome] = []
    stream, upstream = chat_stream(settled)
    await stream.close()
    await stream.close()  # once only
    assert len(settled) == 1 and upstream.closed
    assert settled[0].text == "first " and settled[0].was_cancelled


async def test_close_after_reading_changes_nothing() -> None:
    settled: list[Outcome] = []
    stream, _ = chat_stream(settled)
    assert [d.text async for d in stream.deltas()] == ["first ", "second ", "third"]
    await stream.close()
    assert len(settled) == 1 and settled[0].text == "first second third"
    assert not settled[0].was_cancelled


async def test_a_client_gone_before_the_first_write_settles_and_runs_every_closer() -> None:
    settled: list[Outcome] = []
    stream, _ = chat_stream(settled)
    started: list[bool] = []
    released: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        started.append(True)  # never reached: the client is gone before the body is read
        async for delta in stream.deltas():
            yield delta.text.encode()

    async def release() -> None:
        released.append("slot")

    async def send(message: Message) -> None:
        await asyncio.Event().wait()  # the head never goes out before the disconnect is seen

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    response = SSEResponse(body(), on_close=stream.close)
    response.closers.append(release)
    scope = {"type": "http", "path": "/v1/chat/completions", "asgi": {"spec_version": "2.4"}}
    await asyncio.wait_for(response(scope, receive, send), 5)
    assert started == []
    assert [o.text for o in settled] == ["first "] and settled[0].was_cancelled
    assert released == ["slot"]
