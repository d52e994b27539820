"""Live transcription sessions through the real TranscriptionStream (shared/audio/stream.py), as the
WebSocket route runs it: the hold `stt:{session}` for the most seconds the wallet can pay, audio in
chunks (a partial transcript every full window), then finished (charged every second received),
abandoned by the client (charged the seconds already transcribed), failed by the provider (voided), cut
by the session's time limit after a long pause (then abandoned), or left by a crashed instance (its hold
expires through the reconciler). The transcriber is scripted in process and fails by the fault plan.

Speech out (shared/speech/service.py) is tests/sim/speech_sim.py; sessions paid from a workspace's wallet
are opened by tests/sim/ws_audio_sim.py and then chunked and closed here like the others.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.audio.stream import (
    HOLD_MARGIN_S,
    SessionTimeLimit,
    StartMessage,
    StreamTooShort,
    TranscriptionStream,
)
from shared.catalog.audio import TranscriptionModel
from shared.errors import UpstreamError
from shared.ledger.errors import PaymentDebt
from shared.settings import Settings
from shared.usage.recorder import UsageRecorder
from tests.sim.calls import Violation, shown
from tests.sim.embeddings_sim import Metered
from tests.sim.faults import CALLER_ERRORS, FaultPlan
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from tests.sim.world import World

REFUSED: tuple[type[Exception], ...] = (StreamTooShort, PaymentDebt, *CALLER_ERRORS)
MODEL = TranscriptionModel("sim-stt", "sim", "sim/stt", price_per_second=2, available=True)
RATE = 8_000  # frames a second, 16-bit mono: two bytes a frame
MAX_S, MIN_S, WINDOW_S, IDLE_S = 120, 5, 5, 30
TTL = dt.timedelta(seconds=MAX_S + IDLE_S + HOLD_MARGIN_S)


class Transcriber:
    """The provider, in process: a word a window, down now and then by the fault plan."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan

    async def transcribe(self, model: TranscriptionModel, wav: bytes, language: str | None) -> str:
        if self.plan.provider_down("transcribe"):
            raise UpstreamError("simulated: the transcription provider failed")
        return "word"


@dataclass
class Session:
    wallet: str
    stream: TranscriptionStream
    frames: int = 0  # received, within what the hold covers
    limit: int = 0  # the most frames the hold covers
    base: str | None = None  # paid from this workspace's wallet (ws_audio_sim), by `wallet` as member


def settings(project: str) -> Settings:
    return Settings(
        GOOGLE_CLOUD_PROJECT=project,
        stt_max_seconds=MAX_S,
        stt_min_seconds=MIN_S,
        stt_partial_every_s=WINDOW_S,
        stt_idle_timeout_s=IDLE_S,
    )


async def open_session(world: World) -> str:
    w = world.wallet()
    m = world.model[w]
    sid = f"{world.new_id('stt')}-{world.tag}"  # usage records are global, by hold id: one run's own
    instance = world.rng.choice(world.instances)
    stream = TranscriptionStream(
        instance.payer,
        Transcriber(world.plan),
        MODEL,
        world.audio_settings,
        w,
        sid,
        StartMessage(encoding="pcm16", sample_rate=RATE),
        spender=w,
        usage=UsageRecorder(world.db),
        clock=lambda: world.clock.at.timestamp(),
    )
    price = MODEL.price_per_second
    world.plan.start()
    try:
        await stream.open()
    except REFUSED as exc:
        stored = await world.ledger.hold(w, stream.hold_id)
        if isinstance(exc, CALLER_ERRORS):
            if stored is not None:  # reserved, its answer lost: left to expire
                m.reserve(stream.hold_id, MAX_S * price, MIN_S * price, world.clock.at, TTL)
                world.metered[stream.hold_id] = Metered(w, True, "transcription")
            return f"stt open({sid}) -> {shown(exc)}, faults {world.plan.current}"
        want = m.reserve(stream.hold_id, MAX_S * price, MIN_S * price, world.clock.at, TTL)
        world.same(f"stt open({sid})", exc.__cause__ or exc, want)
        return f"stt open({sid}) -> {shown(exc)}"
    held = m.reserve(stream.hold_id, MAX_S * price, MIN_S * price, world.clock.at, TTL)
    got = await world.ledger.hold(w, stream.hold_id)
    world.same(f"stt open({sid})", got, held)
    assert isinstance(held, ModelHold)
    world.metered[stream.hold_id] = Metered(w, False, "transcription")
    world.sessions.append(Session(w, stream, 0, held.amount // price * RATE))
    return f"stt open({sid}) -> {shown(got)}"


async def chunk(world: World) -> str:
    """One to ten seconds of audio; a provider failure fails the session, its time limit abandons it."""
    if not world.sessions:
        return "stt chunk: no session"
    s = world.rng.choice(world.sessions)
    frames = world.rng.randint(1, 10 * RATE)
    world.plan.start()
    try:
        _, over = await s.stream.add(b"\0\0" * frames)
    except SessionTimeLimit:
        return await close(world, s, "abandon")
    except UpstreamError:
        return await close(world, s, "fail")
    s.frames = min(s.frames + frames, s.limit)
    if over:
        return await close(world, s, "finish")
    return f"stt chunk({s.stream.hold_id}, {frames}) -> {s.frames} frames"


async def end(world: World) -> str:
    if not world.sessions:
        return "stt end: no session"
    s = world.rng.choice(world.sessions)
    how = world.rng.choices(["finish", "abandon", "crash"], [6, 3, 1])[0]
    if how == "crash":  # the instance died: nobody closes it; the reconciler expires the hold
        world.sessions.remove(s)
        return f"stt crash({s.stream.hold_id})"
    world.plan.start()
    return await close(world, s, how)


async def close(world: World, s: Session, how: str) -> str:
    """Close the session as `how` says (a failing final transcription fails it) and predict the hold."""
    world.sessions.remove(s)
    hold_id = s.stream.hold_id
    window = WINDOW_S * RATE
    charged_frames = {"finish": s.frames, "abandon": s.frames // window * window, "fail": 0}
    got: Any
    try:
        if how == "finish":
            try:
                got = (await s.stream.finish())[1]
            except UpstreamError:
                how = "fail"
                await s.stream.fail()
                got = s.stream.charge(0)
        elif how == "abandon":
            got = await s.stream.abandon()
        else:
            await s.stream.fail()
            got = s.stream.charge(0)
    except CALLER_ERRORS as exc:
        got = exc
    credits = -(-charged_frames[how] * MODEL.price_per_second // RATE)
    if s.base is not None:
        from tests.sim import ws_audio_sim  # it builds on this module

        return await ws_audio_sim.closed(world, s, how, got, charged_frames[how], credits)
    stored = await world.ledger.hold(s.wallet, hold_id)
    at, what = world.clock.at, f"stt {how}({hold_id}, {charged_frames[how]} frames)"
    if stored is None:
        raise Violation(f"{what}: the hold vanished")
    if isinstance(got, CALLER_ERRORS):
        world.metered[hold_id] = Metered(s.wallet, True, "transcription")
        expired = world.model[s.wallet].holds[hold_id].state == "expired"
        if stored.state == "pending" or (expired and stored.charged == 0):
            return f"{what} -> {shown(got)}, hold left {shown(stored)}"
    m = world.model[s.wallet]
    want = m.settle(hold_id, credits, at) if credits > 0 else m.void(hold_id, at)
    world.same(what, stored, want)
    if not isinstance(got, CALLER_ERRORS) and want is not None and got.credits != want.shown_charge:
        raise Violation(f"{what}: the session says it charged {got.credits}, the hold {shown(want)}")
    return f"{what} -> {shown(got)}, hold {shown(stored)}"


async def drain(world: World) -> None:
    for s in list(world.sessions):
        world.recent.append(await close(world, s, "finish"))
