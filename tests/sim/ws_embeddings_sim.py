"""Metered embedding calls paid from a workspace's sharded wallet by one of its members: the same calls as
tests/sim/embeddings_sim.py (the real EmbeddingService, the scripted provider), through a payer with
workspace wallets, so the member's monthly limit is counted first and the hold lands on a shard.

Predicted by the workspace's model (tests/sim/shards.py) behind the member's limit (members_sim.reserve);
after every call the member's counter is checked against their limit and the ledger (members_sim.check).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.auth.schemas import Principal
from shared.embeddings.schemas import EmbeddingRequest, EmbeddingResponse
from shared.embeddings.service import worst_case_tokens
from shared.errors import UpstreamError
from shared.usage.recorder import UsageRecorder
from tests.sim import members_sim
from tests.sim.calls import Violation, shown
from tests.sim.embeddings_sim import MODEL, Script, build
from tests.sim.faults import CALLER_ERRORS
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from tests.sim.world import World

ANSWERS: tuple[type[Exception], ...] = (UpstreamError, *members_sim.REFUSALS, *CALLER_ERRORS)


async def ws_embed(world: World) -> str:
    base, user = await members_sim.pick(world)
    m = world.sharded[base]
    rng = world.rng
    words = [rng.randint(1, 120) for _ in range(rng.randint(1, MODEL.max_inputs))]
    estimate = sum(words)
    want = MODEL.cost(worst_case_tokens(estimate, len(words)))
    minimum = MODEL.cost(estimate)
    roll = rng.random()
    script = Script(fail=roll < 0.15, tokens=None if roll < 0.3 else rng.randint(1, want + 40))
    instance = rng.choice(world.instances)
    caller, payer = instance.embedder, members_sim.payer(world, instance)
    caller.script = script
    service = build(payer, UsageRecorder(world.db), caller)
    body = EmbeddingRequest(model=MODEL.id, input=[" ".join(["w"] * n) for n in words])
    principal = Principal(
        user_id=user, wallet_id=base, auth="jwt", workspace_id=members_sim.workspace_id(base)
    )
    what = f"ws embed({user[-8:]}, {estimate} tokens, want={want}, script={script})"
    used = await members_sim.used(world, base, user)
    world.plan.start()
    got: Any
    try:
        got = await service.create(principal, world.new_id("wsemb"), body)
    except ANSWERS as exc:
        got = exc
    hold_id = payer.last
    if isinstance(got, members_sim.REFUSALS) or hold_id is None:
        if not isinstance(got, members_sim.REFUSALS):
            raise Violation(f"{what}: the service answered {shown(got)} without reserving")
        refused = members_sim.reserve(world, base, user, used, f"refused-{world.n}", want, minimum, world.ttl)
        members_sim.same_refusal(what, got, refused)
        await members_sim.check(world, base, user)
        return f"{what} -> {shown(got)}"
    stored = await world.ledger_shards.find(base, m.count, hold_id)
    faulted = isinstance(got, CALLER_ERRORS)
    if stored is None:
        if not faulted:
            raise Violation(f"{what}: no hold {hold_id} after {shown(got)}")
        await members_sim.check(world, base, user)
        return f"{what} -> {shown(got)}, nothing held, faults {world.plan.current}"
    held = members_sim.reserve(world, base, user, used, hold_id, want, minimum, world.ttl)
    if not isinstance(held, ModelHold) or held.amount != stored.amount:
        raise Violation(f"{what}: the shards held {shown(stored)}, the model expects {shown(held)}")
    members_sim.metered(world)[hold_id] = members_sim.WsMetered(base, faulted, "embeddings")
    charge = MODEL.cost(script.tokens or estimate)
    allowed = {"pending", "settled", "voided"} if faulted else {"voided"} if script.fail else {"settled"}
    if isinstance(got, UpstreamError) and not script.fail:
        allowed = {"voided"}  # the provider was down (the plan's fault): released
    if stored.state not in allowed:
        raise Violation(f"{what}: hold {hold_id} is {shown(stored)} after {shown(got)}; allowed {allowed}")
    if stored.state in ("settled", "voided"):
        world.same(what, stored, m.finish(hold_id, stored.state, charge if stored.state == "settled" else 0))
        if isinstance(got, EmbeddingResponse) and got.usage.credits != stored.charged:
            raise Violation(
                f"{what}: answered {got.usage.credits} credits, the hold charged {stored.charged}"
            )
    await members_sim.check(world, base, user)
    return f"{what} -> {shown(got)}, hold {shown(stored)}"
