"""A streaming chat call renews its hold while deltas flow, so the reconciler never releases the credits
of a stream that outlives the hold's TTL (a slow reader)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from shared.chat.call import Outcome
from shared.chat.schemas import CallResult
from shared.chat.stream import ChatStream, Heartbeat
from shared.gateway.types import Delta

pytestmark = pytest.mark.anyio


class Upstream:
    usage = None

    async def aclose(self) -> None:
        return None


async def slow_deltas(now: list[float], n: int, gap_s: float) -> AsyncIterator[Delta]:
    for i in range(n):
        now[0] += gap_s  # the reader takes gap_s per delta
        yield Delta(f"t{i} ", None)


async def test_the_hold_is_renewed_every_interval_while_the_stream_runs() -> None:
    now, beats = [0.0], []

    async def beat() -> None:
        beats.append(now[0])

    async def finish(outcome: Outcome) -> CallResult:
        return cast(CallResult, outcome)

    heartbeat = Heartbeat(beat, every_s=300.0, clock=lambda: now[0])
    stream = ChatStream(cast(Any, Upstream()), slow_deltas(now, 20, 100.0), None, finish, heartbeat)
    got = [d.text async for d in stream.deltas()]
    assert len(got) == 20
    # 2,000 s of streaming against a 900 s hold: renewed every 300 s, never more often.
    assert beats == [300.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0]


async def test_a_failed_beat_does_not_end_the_stream() -> None:
    now = [0.0]

    async def beat() -> None:
        raise RuntimeError("firestore unavailable")

    async def finish(outcome: Outcome) -> CallResult:
        return cast(CallResult, outcome)

    heartbeat = Heartbeat(beat, every_s=1.0, clock=lambda: now[0])
    stream = ChatStream(cast(Any, Upstream()), slow_deltas(now, 5, 2.0), None, finish, heartbeat)
    assert len([d async for d in stream.deltas()]) == 5
    assert stream.error is None
