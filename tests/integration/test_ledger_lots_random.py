"""A seeded random walk over expiring credits with payments: purchases (some expiring), refunds and
disputes (some before their payment), grants, holds, lot sweeps and a moving clock, one wallet. After
every operation: every ledger invariant, and what a reservation can take is exactly the credits not
expired. Replay a failure with LEDGER_SEED=<seed>."""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from typing import Any

import pytest
from google.cloud import firestore

from shared.ledger.errors import InsufficientCredits, PaymentDebt
from shared.ledger.ledger import Ledger
from shared.purchases.payments import Purchases
from tests.support.ledger import check_invariants, close_client, ledger_settings
from tests.support.lots import Clock, wallet_doc

pytestmark = pytest.mark.anyio

OPERATIONS = 120


def spendable(doc: dict[str, Any], at: dt.datetime) -> int:
    due = sum(int(lot["left"]) for lot in doc.get("lots", []) if lot["expires_at"] <= at)
    return int(doc.get("available", 0)) - due


class Walk:
    def __init__(self, rng: random.Random, db: firestore.AsyncClient, clock: Clock) -> None:
        self.rng, self.db, self.clock = rng, db, clock
        self.ledger = Ledger(db, ledger_settings(hold_ttl_s=3600))
        self.purchases = Purchases(db, self.ledger)
        self.wallet = f"w-lotwalk-{uuid.uuid4().hex}"
        self.payments: dict[str, int] = {}  # payment id -> amount paid (minor units)
        self.early: list[str] = []  # payments refunded or disputed before they were seen
        self.holds: list[str] = []
        self.n = 0

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}-{self.wallet[-6:]}"

    def _ends(self) -> dt.datetime | None:
        if self.rng.random() < 0.4:
            return None
        return self.clock.at + dt.timedelta(hours=self.rng.randint(-2, 72))

    async def step(self) -> str:
        ops = ["purchase", "claw_back", "grant", "reserve", "finish", "tick", "sweep", "reserve_all"]
        op = self.rng.choices(ops, weights=[3, 2, 2, 3, 4, 1, 1, 2])[0]
        done: str = await getattr(self, op)()
        return done

    async def purchase(self) -> str:
        known, roll = sorted(self.payments), self.rng.random()
        if known and roll < 0.3:
            pid = self.rng.choice(known)
        elif self.early and roll < 0.6:
            pid = self.early.pop()
        else:
            pid = self._id("pi")
        credits = self.rng.randint(100, 2_000)
        ends = self._ends()
        out = await self.purchases.purchase(
            "stripe", pid, self.wallet, credits, credits, "usd", expires_at=ends
        )
        if out.applied:
            self.payments[pid] = credits
            assert out.granted == credits
        return f"purchase({pid}, {credits}, {ends}) -> applied={out.applied} taken={out.taken}"

    async def claw_back(self) -> str:
        early = not self.payments or self.rng.random() < 0.15
        pid = self._id("pi") if early else self.rng.choice(sorted(self.payments))
        claim = self.rng.choice(["refund", f"dispute:{self.rng.randint(1, 3)}"])
        paid = self.payments.get(pid, 1_000)
        minor = self.rng.randint(paid // 2, paid)
        cid = self._id("cb")
        out = await self.purchases.claw_back("stripe", pid, cid, claim, minor, wallet_id=self.wallet)
        if early:  # its payment comes later, sometimes
            self.early.append(pid)
        assert out.taken >= 0
        assert out.debt >= 0
        return f"claw_back({pid}, {claim}, {minor}) -> {out.state} taken={out.taken} debt={out.debt}"

    async def grant(self) -> str:
        ends, amount = self._ends(), self.rng.randint(1, 1_500)
        applied = await self.ledger.grant(self.wallet, amount, self._id("g"), expires_at=ends)
        assert applied
        return f"grant({amount}, {ends})"

    async def reserve(self, want: int | None = None) -> str:
        doc = await wallet_doc(self.db, self.wallet)
        can = spendable(doc, self.clock.at)
        want = want or self.rng.randint(1, 800)
        hold_id = self._id("h")
        try:
            hold = await self.ledger.reserve(self.wallet, hold_id, want, 1)
        except PaymentDebt:
            assert doc.get("debt", 0) > 0
            return "reserve -> in debt"
        except InsufficientCredits:
            assert can == 0
            return "reserve -> insufficient"
        assert hold.amount == min(want, can), (hold.amount, want, can)
        self.holds.append(hold_id)
        return f"reserve({want}) -> {hold.amount}"

    async def reserve_all(self) -> str:
        return await self.reserve(want=10**9)

    async def finish(self) -> str:
        if not self.holds:
            return "finish -> no hold"
        hold_id = self.holds.pop(self.rng.randrange(len(self.holds)))
        if self.rng.random() < 0.3:
            return f"void({hold_id}) -> {(await self.ledger.void(self.wallet, hold_id)).state}"
        hold = await self.ledger.settle(self.wallet, hold_id, self.rng.randint(0, 3_000))
        return f"settle({hold_id}) -> {hold.charged}"

    async def tick(self) -> str:
        self.clock.advance(dt.timedelta(minutes=self.rng.choice([1, 60, 600, 1_440, 2_880])))
        return f"tick -> {self.clock.at}"

    async def sweep(self) -> str:
        return f"sweep -> {await self.ledger.expire_wallet_lots(self.wallet)}"


async def test_random_payments_and_expiring_credits_keep_the_invariants(clock: Clock) -> None:
    seed = int(os.environ.get("LEDGER_SEED") or random.randrange(2**32))
    db = firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    walk = Walk(random.Random(seed), db, clock)
    done: list[str] = []
    try:
        for _ in range(OPERATIONS):
            done.append(await walk.step())
            w = await check_invariants(db, walk.wallet)
            doc = await wallet_doc(db, walk.wallet)
            balance = await walk.ledger.balance(walk.wallet)
            assert (balance.available, balance.reserved) == (spendable(doc, clock.at), w["reserved"])
    except (Exception, pytest.fail.Exception) as exc:
        recent = "\n  ".join(done[-10:])
        raise AssertionError(
            f"{exc!r} after {len(done)} operations; last ones:\n  {recent}\nreplay with LEDGER_SEED={seed}"
        ) from exc
    finally:
        await close_client(db)
