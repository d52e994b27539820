"""Members spending a workspace's sharded wallet through the real Payer and WorkspaceSpending
(shared/spending/members.py): each reservation counted against the member's monthly limit first, then
held on the shards; a settle or release replaces what was counted by what was charged.

Each workspace of the run has two members: one without a limit and one with a small one, so the limited
member meets it often (MemberLimitExceeded, nothing held). The metered paths (embeddings, transcription,
text to speech) pay from these wallets in their `ws_` operations, predicted by the workspace's model
(tests/sim/shards.py: its net balance and holds).

What is audited after every such step (`check`), for the member who spent:
- never over the limit: the month's counter is at most the limit, and so is what the ledger really took
  for the member's reservations of the month (held while pending, charged once finished);
- never too low: the counter is at least that (a crash or a lost answer may leave it too high, which only
  refuses the member early, as shared/spending/members.py says).
The shards' sums and every hold against the model are the auditor's (tests/sim/audit.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.ledger.errors import InsufficientCredits, PaymentDebt
from shared.ledger.wallet_ids import WORKSPACE_PREFIX
from shared.spending.members import WorkspaceSpending, month_of
from shared.workspaces.errors import MemberLimitExceeded
from shared.workspaces.repository import WorkspaceRepository
from tests.sim.calls import Violation, shown
from tests.sim.embeddings_sim import SeenPayer
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from tests.sim.world import Instance, World

LIMIT = 3_000  # the limited member's monthly limit, in credits
REFUSALS: tuple[type[Exception], ...] = (MemberLimitExceeded, InsufficientCredits, PaymentDebt)


@dataclass
class Spend:
    """One reservation by a member, as the model knows it: the month it counted in, what it counted."""

    base: str
    user: str
    month: str
    counted: int


@dataclass
class Members:
    """The run's workspace members: their limits, and every reservation they made, by hold id."""

    ready: set[str] = field(default_factory=set)  # workspaces whose documents are written
    limits: dict[tuple[str, str], int | None] = field(default_factory=dict)
    spends: dict[str, Spend] = field(default_factory=dict)
    by_month: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)  # hold ids, by member


def members(world: World) -> Members:
    found = getattr(world, "members", None)
    if found is None:
        found = Members()
        world.members = found  # type: ignore[attr-defined] # the run's, made on first use
    return found


def workspace_id(base: str) -> str:
    return base.removeprefix(WORKSPACE_PREFIX)


async def ensure(world: World, base: str) -> None:
    """The workspace's documents, as the workspace service writes them: its shard count and two members."""
    ms = members(world)
    if base in ms.ready:
        return
    repo = WorkspaceRepository(world.db)
    wid = workspace_id(base)
    await repo.workspace_ref(wid).set({"shards": world.sharded[base].count, "name": base})
    for user, limit in ((f"{base}-free", None), (f"{base}-capped", LIMIT)):
        await repo.member_ref(wid, user).set({"role": "member", "monthly_limit": limit})
        ms.limits[(base, user)] = limit
    ms.ready.add(base)


def payer(world: World, instance: Instance) -> SeenPayer:
    """The instance's payer with workspace wallets (as the API's: shared/spending/payer.py)."""
    return SeenPayer(instance.ledger, WorkspaceSpending(world.db, instance.shards, clock=world.clock))


async def pick(world: World) -> tuple[str, str]:
    """A workspace (its documents written) and one of its members."""
    base = world.rng.choice(sorted(world.sharded))
    await ensure(world, base)
    user = world.rng.choice([u for (b, u) in sorted(members(world).limits) if b == base])
    return base, user


async def used(world: World, base: str, user: str) -> int:
    """The member's counter this month, as stored (read before a reservation: a fault may have left it
    higher than the model's sum, which is allowed; `check` bounds it)."""
    repo = WorkspaceRepository(world.db)
    stored = await repo.get(repo.month_ref(workspace_id(base), user, month_of(world.clock.at)))
    return int((stored or {}).get("used", 0))


def reserve(
    world: World, base: str, user: str, used: int, hold_id: str, want: int, minimum: int, ttl: dt.timedelta
) -> Any:
    """The model of WorkspaceSpending.reserve given the member's counter `used`: the member's limit
    first, then the shards' balance."""
    ms = members(world)
    limit = ms.limits[(base, user)]
    month = month_of(world.clock.at)
    counted = want
    if limit is not None:
        if limit - used < minimum:
            return "member_limit"
        counted = min(want, limit - used)
    held = world.sharded[base].reserve(hold_id, counted, min(minimum, counted), world.clock.at, ttl)
    if isinstance(held, ModelHold):
        ms.spends[hold_id] = Spend(base, user, month, counted)
        ms.by_month.setdefault((base, user, month), []).append(hold_id)
    return held


def counted_of(world: World, base: str, user: str, month: str) -> int:
    """What the member's counter should say at least: every reservation of the month as the ledger has it
    (held while pending, charged once finished). A counter is never below this."""
    total = 0
    for hold_id in members(world).by_month.get((base, user, month), []):
        held = world.sharded[base].holds[hold_id]
        total += held.amount if held.state == "pending" else held.shown_charge
    return total


def same_refusal(what: str, got: Any, want: Any) -> None:
    kinds = {"member_limit": MemberLimitExceeded, "insufficient": InsufficientCredits, "debt": PaymentDebt}
    if not (isinstance(want, str) and isinstance(got, kinds[want])):
        raise Violation(f"{what}: the service answered {shown(got)}, the model expects {shown(want)}")


async def check(world: World, base: str, user: str) -> None:
    """No member over their limit, no counter below what the ledger took (see the module's docstring)."""
    month = month_of(world.clock.at)
    counter = await used(world, base, user)
    took = counted_of(world, base, user, month)
    limit = members(world).limits[(base, user)]
    if counter < took:
        raise Violation(f"member {user} counted {counter} in {month}; the ledger took {took} for them")
    if limit is not None and (counter > limit or took > limit):
        raise Violation(
            f"member {user} is over their limit {limit} in {month}: counted {counter}, took {took}"
        )


@dataclass
class WsMetered:
    """A metered call paid from a workspace (its hold on one of the shards): the workspace, whether its
    caller saw a Firestore error, and its usage record's feature."""

    base: str
    errored: bool
    feature: str


def metered(world: World) -> dict[str, WsMetered]:
    found = getattr(world, "ws_metered", None)
    if found is None:
        found = {}
        world.ws_metered = found  # type: ignore[attr-defined] # the run's, made on first use
    return found


async def audit(world: World) -> None:
    """Usage records of workspace-paid calls agree with the ledger, as embeddings_sim.audit checks the
    personal ones: a hold that charged has one record of its feature with the same credits (unless every
    answer of its settle was lost), a released one none that charged anything; and no member is over
    their limit in any month they spent in."""
    from shared.usage.recorder import COLLECTION

    calls = metered(world)
    refs = [world.db.collection(COLLECTION).document(h) for h in calls]
    records = {snap.id: snap.to_dict() async for snap in world.db.get_all(refs)} if refs else {}
    for hold_id, call in calls.items():
        held = world.sharded[call.base].holds[hold_id]
        charged = held.shown_charge if held.state in ("settled", "expired") else 0
        record = records.get(hold_id)
        if charged > 0:
            if record is None and call.errored:
                continue
            if record is None or record.get("feature") != call.feature or record["credits"] != charged:
                raise Violation(f"workspace {call.feature} hold {hold_id} charged {charged}, record {record}")
        elif record is not None and (record.get("credits") or record.get("outcome") == "ok"):
            raise Violation(
                f"workspace {call.feature} hold {hold_id} is {held.state}, yet its record is {record}"
            )
    ms = members(world)
    repo = WorkspaceRepository(world.db)
    for base, user, month in sorted({(s.base, s.user, s.month) for s in ms.spends.values()}):
        stored = await repo.get(repo.month_ref(workspace_id(base), user, month))
        counter = int((stored or {}).get("used", 0))
        took = counted_of(world, base, user, month)
        limit = ms.limits[(base, user)]
        if counter < took or (limit is not None and max(counter, took) > limit):
            raise Violation(f"member {user} in {month}: counted {counter}, took {took}, limit {limit}")
