"""Text to speech through the real SpeechService (shared/speech/service.py), as POST /v1/audio/speech runs
it: the price of the characters held (ChatAdmission), the provider asked up to its first bytes, the body
relayed, and the hold settled or released, once, when the body ends, with a usage record.

How a call ends, and what the model predicts for its hold (the module docstring of the service):
- `complete`: the body read to its end: settled for the price;
- `client_left`: the client reads the first bytes and goes away (the response closes the body): settled
  for the price (the provider was asked for the whole text);
- `provider_cut`: the provider stops midway (SpeechCut): released, nothing charged;
- `open_fail`: the provider fails before its first bytes (or is down, by the fault plan): released;
- `crash`: the instance dies between the reserve and the settle (the body is never read, nothing runs
  after): the hold is left pending and the reconciler expires it; nothing is charged.
Firestore's faults at the reserve, the settle or the release decide which of them happened; the hold is
read back and must be one the call's answer allows (as for embeddings: tests/sim/embeddings_sim.py).

`tts` pays from a member's own wallet, `ws_tts` from a workspace's sharded wallet as one of its members
(tests/sim/members_sim.py: the member's monthly limit checked after every such call).

The provider is scripted in process behind our Speaker interface (a fake of the gateway adapter).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.auth.schemas import Principal
from shared.catalog.speech import SpeechCatalog, SpeechModel
from shared.errors import UpstreamError
from shared.gateway.speech import SpeechCut, SpeechRequest
from shared.ledger.errors import InsufficientCredits, PaymentDebt
from shared.ledger.schemas import Hold
from shared.speech.schemas import SpeechBody
from shared.speech.service import SpeechService
from shared.usage.recorder import UsageRecorder
from tests.sim import members_sim
from tests.sim.calls import Violation, shown
from tests.sim.embeddings_sim import AnyModel, Metered, SeenPayer
from tests.sim.faults import CALLER_ERRORS, FaultPlan
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from tests.sim.world import Instance, World

# Two credits a character: a call costs 2 to 1,200 credits, as chat spends do.
MODEL = SpeechModel(
    id="sim-tts",
    provider="sim",
    litellm_model="sim/tts",
    price_per_million_chars=2_000_000,
    max_input_chars=600,
    voices=("alloy",),
    formats=("mp3",),
    speed=False,
    instructions=False,
    available=True,
)
CATALOG = SpeechCatalog({MODEL.id: MODEL})
OUTCOMES = {"complete": 5, "client_left": 2, "provider_cut": 1.5, "open_fail": 1, "crash": 1}
PIECES = 3  # chunks of audio a call sends
ANSWERS: tuple[type[Exception], ...] = (
    InsufficientCredits,
    PaymentDebt,
    UpstreamError,
    *members_sim.REFUSALS,
    *CALLER_ERRORS,
)


class ScriptedAudio:
    def __init__(self, cut: bool) -> None:
        self.cut = cut

    async def chunks(self) -> AsyncIterator[bytes]:
        for i in range(PIECES):
            if self.cut and i == 1:
                raise SpeechCut("simulated: the provider stopped sending the audio midway")
            yield b"\x00" * 64

    async def aclose(self) -> None:
        return None


class ScriptedSpeaker:
    """The provider behind our Speaker interface, in process: fails before its first bytes, stops
    midway, or sends the whole clip, as scripted; down now and then by the fault plan."""

    def __init__(self, plan: FaultPlan, how: str) -> None:
        self.plan = plan
        self.how = how

    async def open(self, model: SpeechModel, request: SpeechRequest) -> ScriptedAudio:
        if self.how == "open_fail" or self.plan.provider_down("speak"):
            raise UpstreamError("simulated: the speech provider failed")
        return ScriptedAudio(cut=self.how == "provider_cut")


@dataclass
class Spoken:
    """A call as its caller saw it: the answer (the charge, or the exception), and the hold it reserved."""

    got: Any
    hold_id: str | None


async def speak(
    world: World, instance: Instance, payer: SeenPayer, principal: Principal, how: str, chars: int
) -> Spoken:
    """One call through the service, ended as `how` says."""
    service = SpeechService(
        CATALOG,
        ScriptedSpeaker(world.plan, how),
        payer,
        UsageRecorder(world.db),
        AnyModel(),  # type: ignore[arg-type] # every plan may call the run's model
    )
    prepared = service.prepare(principal, SpeechBody(model=MODEL.id, input="a" * chars, voice="alloy"))
    world.plan.start()
    got: Any
    try:
        call = await service.start(principal, prepared, world.new_id("tts"))
        if how == "crash":  # the instance died: the body is never read, nothing settles
            return Spoken("crash", payer.last)
        body = call.body()
        if how == "client_left":
            await body.__anext__()
            await body.aclose()
        else:
            async for _ in body:
                pass
        got = call.charged
    except ANSWERS as exc:
        got = exc
    return Spoken(got, payer.last)


def allowed(got: Any, how: str) -> set[str]:
    """The states the hold may be in after the call's answer."""
    if isinstance(got, CALLER_ERRORS):
        return {"pending", "settled", "voided"}
    if isinstance(got, UpstreamError):
        return {"voided"}
    if got == "crash":
        return {"pending"}
    return {"settled"} if how in ("complete", "client_left") else {"voided"}


def draw(world: World) -> tuple[str, int]:
    how = world.rng.choices(list(OUTCOMES), list(OUTCOMES.values()))[0]
    return how, world.rng.randint(1, MODEL.max_input_chars)


async def tts(world: World) -> str:
    """A call paid from a member's own wallet."""
    w = world.wallet()
    m = world.model[w]
    how, chars = draw(world)
    credits = MODEL.price(chars)
    instance = world.rng.choice(world.instances)
    principal = Principal(user_id=w, wallet_id=w, auth="jwt")
    what = f"tts({w[-4:]}, {chars} chars, {credits} credits, {how})"
    spoken = await speak(world, instance, SeenPayer(instance.ledger), principal, how, chars)
    got, hold_id, at = spoken.got, spoken.hold_id, world.clock.at
    if hold_id is None:
        raise Violation(f"{what}: the service answered {shown(got)} without reserving")
    if isinstance(got, InsufficientCredits | PaymentDebt):
        world.same(what, got, m.reserve(f"refused-{world.n}", credits, credits, at, world.ttl))
        return f"{what} -> {shown(got)}"
    stored = await world.ledger.hold(w, hold_id)
    faulted = isinstance(got, CALLER_ERRORS)
    if stored is None:
        if not faulted:
            raise Violation(f"{what}: no hold {hold_id} after {shown(got)}")
        return f"{what} -> {shown(got)}, nothing held, faults {world.plan.current}"
    held = m.reserve(hold_id, credits, credits, at, world.ttl)
    if not isinstance(held, ModelHold) or held.amount != stored.amount:
        raise Violation(f"{what}: the ledger held {shown(stored)}, the model expects {shown(held)}")
    world.metered[hold_id] = Metered(w, faulted, "speech")
    want = predicted(what, got, how, stored, lambda state: finish_personal(m, hold_id, state, credits, at))
    world.same(what, stored, want)
    return f"{what} -> {shown(got)}, hold {shown(stored)}"


def finish_personal(m: Any, hold_id: str, state: str, credits: int, at: Any) -> Any:
    if state == "settled":
        return m.settle(hold_id, credits, at)
    if state == "voided":
        return m.void(hold_id, at)
    return m.holds[hold_id]


def predicted(what: str, got: Any, how: str, stored: Hold, finish: Any) -> Any:
    """The model's hold once the call ended as read back, checked against what the call's answer allows."""
    if stored.state not in allowed(got, how):
        raise Violation(
            f"{what}: hold {stored.id} is {shown(stored)} after {shown(got)}; allowed {allowed(got, how)}"
        )
    want = finish(stored.state)
    if isinstance(got, int) and not isinstance(got, bool) and got != stored.charged:
        raise Violation(f"{what}: the call says it charged {got}, the hold {shown(stored)}")
    return want


async def ws_tts(world: World) -> str:
    """A call paid from a workspace's wallet by one of its members."""
    base, user = await members_sim.pick(world)
    m = world.sharded[base]
    how, chars = draw(world)
    credits = MODEL.price(chars)
    instance = world.rng.choice(world.instances)
    principal = Principal(
        user_id=user, wallet_id=base, auth="jwt", workspace_id=members_sim.workspace_id(base)
    )
    what = f"ws tts({user[-8:]}, {chars} chars, {credits} credits, {how})"
    used = await members_sim.used(world, base, user)
    spoken = await speak(world, instance, members_sim.payer(world, instance), principal, how, chars)
    got, hold_id = spoken.got, spoken.hold_id
    if hold_id is None:
        raise Violation(f"{what}: the service answered {shown(got)} without reserving")
    if isinstance(got, members_sim.REFUSALS):
        want = members_sim.reserve(world, base, user, used, f"refused-{world.n}", credits, credits, world.ttl)
        members_sim.same_refusal(what, got, want)
        await members_sim.check(world, base, user)
        return f"{what} -> {shown(got)}"
    stored = await world.ledger_shards.find(base, m.count, hold_id)
    faulted = isinstance(got, CALLER_ERRORS)
    if stored is None:
        if not faulted:
            raise Violation(f"{what}: no hold {hold_id} after {shown(got)}")
        await members_sim.check(world, base, user)
        return f"{what} -> {shown(got)}, nothing held, faults {world.plan.current}"
    held = members_sim.reserve(world, base, user, used, hold_id, credits, credits, world.ttl)
    if not isinstance(held, ModelHold) or held.amount != stored.amount:
        raise Violation(f"{what}: the shards held {shown(stored)}, the model expects {shown(held)}")
    members_sim.metered(world)[hold_id] = members_sim.WsMetered(base, faulted, "speech")

    def finish(state: str) -> Any:
        if state in ("settled", "voided"):
            return m.finish(hold_id, state, credits if state == "settled" else 0)
        return m.holds[hold_id]

    world.same(what, stored, predicted(what, got, how, stored, finish))
    await members_sim.check(world, base, user)
    return f"{what} -> {shown(got)}, hold {shown(stored)}"
