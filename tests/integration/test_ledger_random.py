"""A seeded random walk over the ledger: grants (some expiring, some for a period already over), holds,
settles, voids, hold expiries and lot sweeps, replays included, while a controlled clock moves on;
compared after every operation with a plain-Python model. Replay a failure with LEDGER_SEED=<seed>."""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid

import pytest
from google.cloud import firestore

from shared.ledger.errors import HoldNotFound, InsufficientCredits, PaymentDebt
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Hold
from tests.sim.model import ModelHold, ModelWallet
from tests.support.ledger import check_invariants, close_client, ledger_settings
from tests.support.lots import Clock, wallet_doc

pytestmark = pytest.mark.anyio

OPERATIONS = 150
TTL_S = 3600


class Walk:
    def __init__(self, rng: random.Random, ledger: Ledger, wallets: list[str], clock: Clock) -> None:
        self.rng = rng
        self.ledger = ledger
        self.clock = clock
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
        ops = ["grant", "grant_expiring", "reserve", "settle", "void", "expire", "tick", "sweep"]
        op = self.rng.choices(ops, weights=[2, 2, 4, 3, 1, 1, 1, 1])[0]
        done: str = await getattr(self, op)(wallet_id, self.model[wallet_id])
        return done

    async def grant(self, wallet_id: str, m: ModelWallet, ends: dt.datetime | None = None) -> str:
        ext = self._pick(m.grants, "evt", replay=0.3)
        amount = self.rng.randint(1, 1_500)
        applied = await self.ledger.grant(wallet_id, amount, ext, expires_at=ends)
        assert applied == m.grant(ext, amount, self.clock.at, ends)
        return f"grant({ext}, {amount}, expires_at={ends}) -> {applied}"

    async def grant_expiring(self, wallet_id: str, m: ModelWallet) -> str:
        # Mostly in the coming days, sometimes already over (a late invoice), sometimes exactly now.
        ends = self.clock.at + dt.timedelta(hours=self.rng.randint(-2, 72))
        return await self.grant(wallet_id, m, ends)

    async def tick(self, wallet_id: str, m: ModelWallet) -> str:
        self.clock.advance(dt.timedelta(minutes=self.rng.choice([1, 30, 60, 600, 1_440, 2_880])))
        return f"tick -> {self.clock.at}"

    async def sweep(self, wallet_id: str, m: ModelWallet) -> str:
        expired = await self.ledger.expire_wallet_lots(wallet_id)
        assert expired == m.expire(self.clock.at)
        return f"sweep -> {expired}"

    async def reserve(self, wallet_id: str, m: ModelWallet) -> str:
        hold_id = self._pick(m.holds, "h", replay=0.2)
        want = self.rng.randint(1, 800)
        minimum = self.rng.randint(1, want)
        due = self.rng.random() < 0.3
        ttl = -1 if due else None
        call = f"reserve({hold_id}, want={want}, minimum={minimum}, due={due})"
        expected = m.reserve(hold_id, want, minimum, self.clock.at, dt.timedelta(seconds=ttl or TTL_S))
        if expected == "debt":
            with pytest.raises(PaymentDebt):
                await self.ledger.reserve(wallet_id, hold_id, want, minimum, ttl_s=ttl)
            return f"{call} -> owes {m.debt}"
        if expected == "insufficient":
            with pytest.raises(InsufficientCredits):
                await self.ledger.reserve(wallet_id, hold_id, want, minimum, ttl_s=ttl)
            return f"{call} -> insufficient"
        hold = await self.ledger.reserve(wallet_id, hold_id, want, minimum, ttl_s=ttl)
        self.same(hold, expected)
        return f"{call} -> {hold.amount}"

    async def settle(self, wallet_id: str, m: ModelWallet) -> str:
        hold_id = self._existing(m)
        amount = self.rng.randint(0, 1_200)
        held = m.settle(hold_id, amount, self.clock.at)
        if held is None:
            with pytest.raises(HoldNotFound):
                await self.ledger.settle(wallet_id, hold_id, amount)
            return f"settle({hold_id}) -> not found"
        hold = await self.ledger.settle(wallet_id, hold_id, amount)
        self.same(hold, held)
        return f"settle({hold_id}, {amount}) -> {hold.state}/{hold.charged}"

    async def void(self, wallet_id: str, m: ModelWallet) -> str:
        hold_id = self._existing(m)
        held = m.void(hold_id, self.clock.at)
        if held is None:
            with pytest.raises(HoldNotFound):
                await self.ledger.void(wallet_id, hold_id)
            return f"void({hold_id}) -> not found"
        hold = await self.ledger.void(wallet_id, hold_id)
        self.same(hold, held)
        return f"void({hold_id}) -> {hold.state}"

    async def expire(self, wallet_id: str, m: ModelWallet) -> str:
        hold_id = self._existing(m)
        expired = await self.ledger.expire(wallet_id, hold_id)
        assert expired == m.expire_hold(hold_id, self.clock.at)
        return f"expire({hold_id}) -> {expired}"

    def covered(self) -> bool:
        states = {h.state for m in self.model.values() for h in m.holds.values()}
        return states >= {"pending", "settled"} and sum(m.expired for m in self.model.values()) > 0

    def _existing(self, m: ModelWallet) -> str:
        """Mostly a known hold (often a finished one: late and replayed calls), sometimes an unknown one."""
        if not m.holds or self.rng.random() < 0.05:
            return self._new_id("missing")
        return self.rng.choice(sorted(m.holds))

    @staticmethod
    def same(hold: Hold, held: ModelHold) -> None:
        assert (hold.amount, hold.state, hold.charged) == (held.amount, held.state, held.shown_charge)


async def test_random_operations_match_the_model(clock: Clock) -> None:
    seed = int(os.environ.get("LEDGER_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    db = firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    wallets = [f"w-rand-{uuid.uuid4().hex}" for _ in range(rng.randint(2, 3))]
    walk = Walk(rng, Ledger(db, ledger_settings(hold_ttl_s=TTL_S)), wallets, clock)
    done: list[str] = []
    try:
        # At least OPERATIONS steps, and more (up to 4x) until the walk has covered what it is for: an
        # unlucky seed would otherwise end before any credits expired.
        while len(done) < OPERATIONS or (not walk.covered() and len(done) < 4 * OPERATIONS):
            wallet_id = rng.choice(wallets)
            done.append(f"{wallet_id[-6:]}: {await walk.step(wallet_id)}")
            m = walk.model[wallet_id]
            balance = await walk.ledger.balance(wallet_id)
            assert (balance.available, balance.reserved) == (m.spendable(clock.at), m.reserved)
            stored = await check_invariants(db, wallet_id)
            assert {k: stored[k] for k in m.counters()} == m.counters()
            lots = (await wallet_doc(db, wallet_id)).get("lots", [])
            assert {lot["id"]: (lot["left"], lot["expires_at"]) for lot in lots} == m.lots
    except (Exception, pytest.fail.Exception) as exc:
        recent = "\n  ".join(done[-10:])
        raise AssertionError(
            f"{exc!r} after {len(done)} operations; last ones:\n  {recent}\nreplay with LEDGER_SEED={seed}"
        ) from exc
    finally:
        await close_client(db)
    states = {h.state for m in walk.model.values() for h in m.holds.values()}
    assert states >= {"pending", "settled"}, f"the walk was too short to cover much (LEDGER_SEED={seed})"
    expired = sum(m.expired for m in walk.model.values())
    assert expired > 0, f"no credits expired in this walk (LEDGER_SEED={seed})"
