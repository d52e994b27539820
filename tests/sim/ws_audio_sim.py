"""Live transcription sessions paid from a workspace's sharded wallet by one of its members: the sessions of
tests/sim/audio_sim.py (the real TranscriptionStream; the same chunks, ends, crashes and time limits, which
pick any open session), opened through a payer with workspace wallets, so the member's monthly limit is
counted first and the hold `stt:{session}` lands on a shard.

Predicted by the workspace's model (tests/sim/shards.py) behind the member's limit (members_sim.reserve);
after the open and the close the member's counter is checked against their limit (members_sim.check).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.audio.stream import StartMessage, StreamTooShort, TranscriptionStream
from shared.ledger.schemas import Hold
from shared.usage.recorder import UsageRecorder
from tests.sim import members_sim
from tests.sim.audio_sim import MAX_S, MIN_S, MODEL, RATE, TTL, Session, Transcriber
from tests.sim.calls import Violation, shown
from tests.sim.faults import CALLER_ERRORS
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from tests.sim.world import World

REFUSED: tuple[type[Exception], ...] = (StreamTooShort, *members_sim.REFUSALS, *CALLER_ERRORS)


async def ws_open(world: World) -> str:
    base, user = await members_sim.pick(world)
    m = world.sharded[base]
    sid = f"{world.new_id('wsstt')}-{world.tag}"
    instance = world.rng.choice(world.instances)
    stream = TranscriptionStream(
        members_sim.payer(world, instance),
        Transcriber(world.plan),
        MODEL,
        world.audio_settings,
        base,
        sid,
        StartMessage(encoding="pcm16", sample_rate=RATE),
        spender=user,
        usage=UsageRecorder(world.db),
        clock=lambda: world.clock.at.timestamp(),
    )
    price, what = MODEL.price_per_second, f"ws stt open({user[-8:]}, {sid})"
    want, minimum = MAX_S * price, MIN_S * price
    used = await members_sim.used(world, base, user)
    world.plan.start()
    try:
        await stream.open()
    except REFUSED as exc:
        stored = await world.ledger_shards.find(base, m.count, stream.hold_id)
        if isinstance(exc, CALLER_ERRORS):
            if stored is not None:  # reserved, its answer lost: left to expire
                members_sim.reserve(
                    world, base, user, used, stream.hold_id, MAX_S * price, MIN_S * price, TTL
                )
                members_sim.metered(world)[stream.hold_id] = members_sim.WsMetered(
                    base, True, "transcription"
                )
            await members_sim.check(world, base, user)
            return f"{what} -> {shown(exc)}, faults {world.plan.current}"
        want = members_sim.reserve(
            world, base, user, used, f"refused-{world.n}", MAX_S * price, MIN_S * price, TTL
        )
        refusal = exc.__cause__ if isinstance(exc, StreamTooShort) else exc
        members_sim.same_refusal(what, refusal, want)
        await members_sim.check(world, base, user)
        return f"{what} -> {shown(exc)}"
    held = members_sim.reserve(world, base, user, used, stream.hold_id, want, minimum, TTL)
    got = await world.ledger_shards.find(base, m.count, stream.hold_id)
    world.same(what, got, held)
    assert isinstance(held, ModelHold)
    members_sim.metered(world)[stream.hold_id] = members_sim.WsMetered(base, False, "transcription")
    world.sessions.append(Session(user, stream, 0, held.amount // price * RATE, base))
    await members_sim.check(world, base, user)
    return f"{what} -> {shown(got)}"


async def closed(world: World, s: Session, how: str, got: Any, frames: int, credits: int) -> str:
    """The session's hold after audio_sim.close ended it as `how` says (`got`: the charge or the error)."""
    assert s.base is not None
    m, hold_id = world.sharded[s.base], s.stream.hold_id
    stored: Hold | None = await world.ledger_shards.find(s.base, m.count, hold_id)
    what = f"ws stt {how}({hold_id}, {frames} frames)"
    if stored is None:
        raise Violation(f"{what}: the hold vanished")
    if isinstance(got, CALLER_ERRORS):
        members_sim.metered(world)[hold_id].errored = True
        if stored.state == "pending" or (m.holds[hold_id].state == "expired" and stored.charged == 0):
            await members_sim.check(world, s.base, s.wallet)
            return f"{what} -> {shown(got)}, hold left {shown(stored)}"
    want = m.finish(hold_id, "settled", credits) if credits > 0 else m.finish(hold_id, "voided", 0)
    world.same(what, stored, want)
    if not isinstance(got, CALLER_ERRORS) and want is not None and got.credits != want.shown_charge:
        raise Violation(f"{what}: the session says it charged {got.credits}, the hold {shown(want)}")
    await members_sim.check(world, s.base, s.wallet)
    return f"{what} -> {shown(got)}, hold {shown(stored)}"
