"""How a speech call ends decides its charge (shared/speech/service.py): read to the end or left by the
client, settled in full; cut by the provider, released; closed before anything was read (the client left
before the first write), still settled once, and the upstream closed. The ledger and Firestore paths are
covered end to end in tests/integration/test_speech.py; here the admission and the usage recorder are
recorders, so each ending is checked exactly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from shared.auth.schemas import Principal
from shared.catalog.speech import SpeechModel
from shared.chat.admission import ChatAdmission
from shared.gateway.speech import SpeechCut, SpeechRequest
from shared.speech.service import Prepared, SpeechCall
from shared.usage.recorder import UsageRecorder

pytestmark = pytest.mark.anyio

MODEL = SpeechModel(
    "m",
    "p",
    "openai/m",
    15_000_000,
    100,
    ("alloy",),
    ("mp3",),
    speed=True,
    instructions=False,
    available=True,
)
PREPARED = Prepared(MODEL, SpeechRequest("hello", "alloy", "mp3"), characters=5, credits=75)


class Admission:
    hold_id = "h1"
    wallet_id = "w1"

    def __init__(self) -> None:
        self.settled: list[int] = []
        self.released = 0

    async def settle(self, cost: int, tokens_used: int) -> int:
        self.settled.append(cost)
        return cost

    async def release(self) -> None:
        self.released += 1


class Usage:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def record(self, record_id: str, traced: Any = None, **fields: Any) -> None:
        self.records.append(fields)


class Audio:
    def __init__(self, pieces: list[bytes], cut_after: int | None = None) -> None:
        self.pieces = pieces
        self.cut_after = cut_after
        self.closed = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        for i, piece in enumerate(self.pieces):
            if i == self.cut_after:
                raise SpeechCut("scripted cut")
            yield piece

    async def aclose(self) -> None:
        self.closed += 1


class Speaker:
    def __init__(self, audio: Audio) -> None:
        self.audio = audio

    async def open(self, model: SpeechModel, request: SpeechRequest) -> Audio:
        return self.audio


async def opened(audio: Audio) -> tuple[SpeechCall, Admission, Usage]:
    admission, usage = Admission(), Usage()
    call = SpeechCall(
        cast(UsageRecorder, usage),
        Principal("u1", "u1", "jwt"),
        PREPARED,
        cast(ChatAdmission, admission),
        "req1",
    )
    await call.open(Speaker(audio))
    return call, admission, usage


async def test_read_to_the_end_is_settled_in_full_once() -> None:
    audio = Audio([b"a", b"b", b"c"])
    call, admission, usage = await opened(audio)
    body = call.body()
    assert [piece async for piece in body] == [b"a", b"b", b"c"]
    await body.aclose()  # the response closes it too: nothing happens twice
    assert admission.settled == [75] and admission.released == 0
    [record] = usage.records
    assert (record["outcome"], record["credits"], record["bytes"]) == ("completed", 75, 3)
    assert audio.closed == 1


async def test_closed_before_any_read_is_still_settled_and_the_upstream_closed() -> None:
    audio = Audio([b"a", b"b"])
    call, admission, usage = await opened(audio)
    await call.body().aclose()
    assert admission.settled == [75]
    assert [r["outcome"] for r in usage.records] == ["client_disconnected"]
    assert audio.closed == 1


async def test_left_midway_pays_in_full() -> None:
    call, admission, usage = await opened(Audio([b"a", b"b", b"c"]))
    body = call.body()
    assert await body.__anext__() == b"a"
    await body.aclose()
    assert admission.settled == [75]
    assert usage.records[0]["outcome"] == "client_disconnected" and usage.records[0]["bytes"] == 1


async def test_cut_by_the_provider_is_released_and_the_error_reaches_the_response() -> None:
    call, admission, usage = await opened(Audio([b"a", b"b", b"c"], cut_after=2))
    body = call.body()
    with pytest.raises(SpeechCut):
        [piece async for piece in body]
    assert admission.settled == [] and admission.released == 1
    [record] = usage.records
    assert (record["outcome"], record["credits"], record["error_code"]) == (
        "provider_cut",
        0,
        "speech_interrupted",
    )
