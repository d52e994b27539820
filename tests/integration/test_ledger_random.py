"""A seeded random walk over the ledger: grants, holds, settles, voids and expiries, replays included,
compared after every operation with a plain-Python model. Replay a failure with LEDGER_SEED=<seed>."""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field

import pytest
from google.cloud import firestore

from shared.credits.errors import HoldNotFound, InsufficientCredits
from shared.credits.ledger import Ledger
from shared.credits.schemas import Hold
from tests.integration.test_ledger_invariants import check_invariants, close_client, ledger_settings

pytestmark = pytest.mark.anyio

OPERATIONS = 150


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class ModelHold:
    amount: int
    due: bool
    state: str = "pending"
    charged: int = 0


@dataclass
class ModelWallet:
    available: int = 0
    reserved: int = 0
    grants: set[str] = field(default_factory=set)
    holds: dict[str, ModelHold] = field(default_factory=dict)


class Walk:
    def __init__(self, rng: random.Random, ledger: Ledger, wallets: list[str]) -> None:
        self.rng = rng
        self.ledger = ledger
        self.model = {w: ModelWallet() for w in wallets}
        self.counter = 0

    def _new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _pick(self, ids: set[str] | dict[str, ModelHold], prefix: str, replay: float) -> str:
        if ids and self.rng.random() < replay:
            return self.rng.choice(sorted(ids))
        return self._new_id(prefix)

    async def step(self, wallet_id: str) -> str:
        op = self.rng.choices(["grant", "reserve", "settle", "void", "expire"], weights=[2, 4, 3, 1, 1])[0]
        done: str = await getattr(self, op)(wallet_id, self.model[wallet_id])
        return done

    async def grant(self, wallet_id: str, m: ModelWallet) -> str:
        ext = self._pick(m.grants, "evt", replay=0.3)
        amount = self.rng.randint(1, 1_500)
        applied = await self.ledger.grant(wallet_id, amount, ext)
        assert applied == (ext not in m.grants)
        if applied:
            m.grants.add(ext)
            m.available += amount
        return f"grant({ext}, {amount}) -> {applied}"

    async def reserve(self, wallet_id: str, m: ModelWallet) -> str:
        hold_id = self._pick(m.holds, "h", replay=0.2)
        want = self.rng.randint(1, 800)
        minimum = self.rng.randint(1, want)
        due = self.rng.random() < 0.3
        call = f"reserve({hold_id}, want={want}, minimum={minimum}, due={due})"
        existing = m.holds.get(hold_id)
        if existing is None and m.available < minimum:
            with pytest.raises(InsufficientCredits):
                await self.ledger.reserve(wallet_id, hold_id, want, minimum, ttl_s=-1 if due else None)
            return f"{call} -> insufficient"
        hold = await self.ledger.reserve(wallet_id, hold_id, want, minimum, ttl_s=-1 if due else None)
        if existing is None:
            existing = m.holds[hold_id] = ModelHold(amount=min(want, m.available), due=due)
            m.available -= existing.amount
            m.reserved += existing.amount
        self.same(hold, existing)
        return f"{call} -> {hold.amount}"

    async def settle(self, wallet_id: str, m: ModelWallet) -> str:
        hold_id = self._existing(m)
        amount = self.rng.randint(0, 1_200)
        if hold_id not in m.holds:
            with pytest.raises(HoldNotFound):
                await self.ledger.settle(wallet_id, hold_id, amount)
            return f"settle({hold_id}) -> not found"
        hold = await self.ledger.settle(wallet_id, hold_id, amount)
        self.finish(m, hold_id, "settled", min(amount, m.holds[hold_id].amount))
        self.same(hold, m.holds[hold_id])
        return f"settle({hold_id}, {amount}) -> {hold.state}/{hold.charged}"

    async def void(self, wallet_id: str, m: ModelWallet) -> str:
        hold_id = self._existing(m)
        if hold_id not in m.holds:
            with pytest.raises(HoldNotFound):
                await self.ledger.void(wallet_id, hold_id)
            return f"void({hold_id}) -> not found"
        hold = await self.ledger.void(wallet_id, hold_id)
        self.finish(m, hold_id, "voided", 0)
        self.same(hold, m.holds[hold_id])
        return f"void({hold_id}) -> {hold.state}"

    async def expire(self, wallet_id: str, m: ModelWallet) -> str:
        hold_id = self._existing(m)
        expired = await self.ledger.expire(wallet_id, hold_id)
        held = m.holds.get(hold_id)
        assert expired == (held is not None and held.state == "pending" and held.due)
        if expired:
            self.finish(m, hold_id, "expired", 0)
        return f"expire({hold_id}) -> {expired}"

    def _existing(self, m: ModelWallet) -> str:
        """Mostly a known hold (often a finished one: late and replayed calls), sometimes an unknown one."""
        if not m.holds or self.rng.random() < 0.05:
            return self._new_id("missing")
        return self.rng.choice(sorted(m.holds))

    @staticmethod
    def finish(m: ModelWallet, hold_id: str, state: str, charged: int) -> None:
        held = m.holds[hold_id]
        if held.state != "pending":
            return
        held.state, held.charged = state, charged
        m.available += held.amount - charged
        m.reserved -= held.amount

    @staticmethod
    def same(hold: Hold, held: ModelHold) -> None:
        assert (hold.amount, hold.state, hold.charged) == (held.amount, held.state, held.charged)


async def test_random_operations_match_the_model() -> None:
    seed = int(os.environ.get("LEDGER_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    db = firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    wallets = [f"w-rand-{uuid.uuid4().hex}" for _ in range(rng.randint(2, 3))]
    walk = Walk(rng, Ledger(db, ledger_settings(hold_ttl_s=3600)), wallets)
    done: list[str] = []
    try:
        for _ in range(OPERATIONS):
            wallet_id = rng.choice(wallets)
            done.append(f"{wallet_id[-6:]}: {await walk.step(wallet_id)}")
            m = walk.model[wallet_id]
            balance = await walk.ledger.balance(wallet_id)
            assert (balance.available, balance.reserved) == (m.available, m.reserved)
            stored = await check_invariants(db, wallet_id)
            assert stored["granted"] - stored["settled"] == m.available + m.reserved
    except (Exception, pytest.fail.Exception) as exc:
        recent = "\n  ".join(done[-10:])
        raise AssertionError(
            f"{exc!r} after {len(done)} operations; last ones:\n  {recent}\nreplay with LEDGER_SEED={seed}"
        ) from exc
    finally:
        await close_client(db)
    states = {h.state for m in walk.model.values() for h in m.holds.values()}
    assert states >= {"pending", "settled"}, f"the walk was too short to cover much (LEDGER_SEED={seed})"
