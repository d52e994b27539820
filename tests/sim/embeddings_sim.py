"""Metered embedding calls through the real EmbeddingService (shared/embeddings/service.py), as
POST /v1/embeddings runs it: the ChatAdmission's hold of the worst case, the provider, the settle on the
tokens it reports (our count when it reports none) or the release when it failed, one usage record.

The provider is a scripted in-process EmbeddingCaller (a fake of the gateway adapter behind our
interface, as hooks.Gateway fakes SSLCommerz): it fails (or is down, by the fault plan), reports its
tokens, or reports none. The model predicts the hold and its charge; Firestore's faults at the reserve,
the settle or the release decide which of them happened, which is read back and must be one the call's
answer allows (an answer given: settled for the predicted charge; the provider's error: released).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.auth.schemas import Principal
from shared.catalog.embeddings import EmbeddingCatalog, EmbeddingModel
from shared.embeddings.schemas import EmbeddingRequest, EmbeddingResponse
from shared.embeddings.service import EmbeddingService, worst_case_tokens
from shared.errors import UpstreamError
from shared.gateway.embeddings import Embedded
from shared.ledger.errors import InsufficientCredits, PaymentDebt
from shared.ledger.schemas import Hold
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder
from tests.sim.calls import Violation, shown
from tests.sim.faults import CALLER_ERRORS, FaultPlan
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from google.cloud import firestore

    from tests.sim.world import World

# One credit a token, so calls cost what chat spends cost and meet the wallets' limits.
MODEL = EmbeddingModel(
    id="sim-embed",
    provider="sim",
    litellm_model="sim/embed",
    price=1_000_000,
    max_input_tokens=400,
    max_inputs=4,
    dimensions=3,
    dimensions_adjustable=False,
    available=True,
)
CATALOG = EmbeddingCatalog({MODEL.id: MODEL}, MODEL.id)
ANSWERS: tuple[type[Exception], ...] = (InsufficientCredits, PaymentDebt, UpstreamError, *CALLER_ERRORS)


class AnyModel:
    """The plans' offers, as far as the service asks: every plan may call the run's model."""

    def get(self, name: str | None) -> AnyModel:
        return self

    def allows(self, model: str) -> bool:
        return True


def count(model: EmbeddingModel, text: str) -> int:
    """Our token count: a word a token."""
    return len(text.split())


@dataclass
class Script:
    """What the provider does on the next call: fail, or answer with `tokens` (None: it reports none)."""

    fail: bool = False
    tokens: int | None = None


class ScriptedEmbedder:
    """The provider behind our EmbeddingCaller interface, in process."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.script = Script()

    async def embed(
        self, model: EmbeddingModel, inputs: list[str], dimensions: int | None, user: str | None
    ) -> Embedded:
        if self.script.fail or self.plan.provider_down("embed"):
            raise UpstreamError("simulated: the embedding provider failed")
        return Embedded([[0.5] * model.dimensions for _ in inputs], self.script.tokens)


class SeenPayer(Payer):
    """The real Payer, remembering the hold id of the last reservation (ChatAdmission's random one)."""

    last: str | None = None

    async def reserve(self, wallet_id: str, hold_id: str, *args: Any, **kwargs: Any) -> Hold:
        self.last = hold_id
        return await super().reserve(wallet_id, hold_id, *args, **kwargs)


def build(payer: SeenPayer, usage: UsageRecorder, caller: ScriptedEmbedder) -> EmbeddingService:
    return EmbeddingService(
        catalog=CATALOG,
        caller=caller,  # type: ignore[arg-type] # the scripted provider behind the same interface
        count=count,
        payer=payer,
        usage=usage,
        plans=AnyModel(),  # type: ignore[arg-type]
    )


@dataclass
class Metered:
    """A metered call that reserved (an embedding call, a transcription session): its wallet, its usage
    record's feature, and whether its caller saw a Firestore error (then a hold settled by a commit whose
    every answer was lost has no usage record: see `audit`)."""

    wallet: str
    errored: bool
    feature: str = "embeddings"


async def embed(world: World) -> str:
    w = world.wallet()
    m = world.model[w]
    rng = world.rng
    words = [rng.randint(1, 120) for _ in range(rng.randint(1, MODEL.max_inputs))]
    estimate = sum(words)
    want = MODEL.cost(worst_case_tokens(estimate, len(words)))
    minimum = MODEL.cost(estimate)
    roll = rng.random()
    script = Script(fail=roll < 0.15, tokens=None if roll < 0.3 else rng.randint(1, want + 40))
    instance = rng.choice(world.instances)
    caller, payer = instance.embedder, instance.payer
    caller.script, payer.last = script, None
    body = EmbeddingRequest(model=MODEL.id, input=[" ".join(["w"] * n) for n in words])
    principal = Principal(user_id=w, wallet_id=w, auth="jwt")
    what = f"embed({w[-4:]}, {estimate} tokens, want={want}, script={script})"
    world.plan.start()
    got: Any
    try:
        got = await instance.embeddings.create(principal, world.new_id("emb"), body)
    except ANSWERS as exc:
        got = exc
    at = world.clock.at
    if isinstance(got, InsufficientCredits | PaymentDebt) or payer.last is None:
        if not isinstance(got, InsufficientCredits | PaymentDebt):
            raise Violation(f"{what}: the service answered {shown(got)} without reserving")
        world.same(what, got, m.reserve(f"refused-{world.n}", want, minimum, at, world.ttl))
        return f"{what} -> {shown(got)}"
    hold_id = payer.last
    stored = await world.ledger.hold(w, hold_id)
    faulted = isinstance(got, CALLER_ERRORS)
    if stored is None:
        if not faulted:
            raise Violation(f"{what}: no hold {hold_id} after {shown(got)}")
        return f"{what} -> {shown(got)}, nothing held, faults {world.plan.current}"
    held = m.reserve(hold_id, want, minimum, at, world.ttl)
    if not isinstance(held, ModelHold) or held.amount != stored.amount:
        raise Violation(f"{what}: the ledger held {shown(stored)}, the model expects {shown(held)}")
    world.metered[hold_id] = Metered(w, faulted)
    charge = MODEL.cost(script.tokens or estimate)
    allowed = {"pending", "settled", "voided"} if faulted else {"voided"} if script.fail else {"settled"}
    if isinstance(got, UpstreamError) and not script.fail:
        allowed = {"voided"}  # the provider was down (the plan's fault): released
    if stored.state not in allowed:
        raise Violation(f"{what}: hold {hold_id} is {shown(stored)} after {shown(got)}; allowed {allowed}")
    if stored.state == "settled":
        world.same(f"{what} settle", stored, m.settle(hold_id, charge, at))
        if isinstance(got, EmbeddingResponse) and got.usage.credits != stored.charged:
            told = got.usage.credits
            raise Violation(f"{what}: answered {told} credits, the hold charged {stored.charged}")
    elif stored.state == "voided":
        world.same(f"{what} release", stored, m.void(hold_id, at))
    return f"{what} -> {shown(got)}, hold {shown(stored)}"


async def audit(db: firestore.AsyncClient, world: World) -> None:
    """Usage records agree with the ledger: a hold of a metered call that charged has one record (its id
    is the hold's) of its feature with the same credits; a released one has none that charged anything."""
    from shared.usage.recorder import COLLECTION

    refs = [db.collection(COLLECTION).document(h) for h in world.metered]
    records = {snap.id: snap.to_dict() async for snap in db.get_all(refs)} if refs else {}
    for hold_id, call in world.metered.items():
        held = world.model[call.wallet].holds[hold_id]
        charged = held.shown_charge if held.state in ("settled", "expired") else 0
        record = records.get(hold_id)  # read at once, checked in order
        if charged > 0:
            if record is None and call.errored:
                continue  # the settle's every answer was lost: charged, no record (a known gap, rare)
            if record is None or record.get("feature") != call.feature or record["credits"] != charged:
                raise Violation(f"{call.feature} hold {hold_id} charged {charged}, record {record}")
        elif record is not None and (record.get("credits") or record.get("outcome") == "ok"):
            raise Violation(f"{call.feature} hold {hold_id} is {held.state}, yet its record is {record}")
