"""The model of payments that arrive as provider events (tests/sim/stripe_sim.py, tests/sim/ssl_sim.py):
what shared/purchases should do to the payment and to the wallet it pays for, whatever order the events
come in and however often.

A payment is keyed `provider:payment id`. It pays a user's wallet (the model's ModelWallet) or a
workspace (its ShardedModel: the workspace's net balance, since a workspace's payment lands on its
shard 0 and is then spread; transfers change no total). Clawbacks (refunds as a running total, disputes)
take the share of the credits their claims cover beyond what was taken; what the wallet lacks is debt.
A dispute won gives back what its clawback took, once; a dispute won before its clawback (or payment)
came records the reversal, and the clawback when it comes is a replay.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shared.purchases.payments import share
from tests.sim.model import ModelWallet
from tests.sim.shards import ShardedModel


@dataclass
class ModelClawback:
    id: str
    claim: str
    minor: int
    state: str = "pending"  # pending, applied, reversed
    credits: int = 0  # what it claimed when applied (taken + debt)


@dataclass
class EventPayment:
    provider: str
    pid: str
    wallet: str  # a user's wallet, or a workspace's base `ws-{id}`
    credits: int
    paid: int
    state: str = "pending"
    clawed: int = 0
    clawbacks: list[ModelClawback] = field(default_factory=list)

    def clawback(self, cid: str) -> ModelClawback | None:
        return next((c for c in self.clawbacks if c.id == cid), None)


class EventModel:
    def __init__(self, wallets: dict[str, ModelWallet], sharded: dict[str, ShardedModel]) -> None:
        self.wallets = wallets
        self.sharded = sharded
        self.payments: dict[str, EventPayment] = {}

    # -- what the handlers do ---------------------------------------------------------------------------

    def purchase(self, p: EventPayment, at: dt.datetime) -> bool:
        """Granted once; clawbacks that came first are applied in the same step. False for a replay."""
        if p.state == "granted":
            return False
        p.state = "granted"
        m = self.wallets.get(p.wallet)
        if m is not None:
            m.expire(at)
            m.credit("purchase", f"{p.provider}:{p.pid}", p.credits, None)
        else:
            self.sharded[p.wallet].net += p.credits
        claims: dict[str, int] = {}
        for c in p.clawbacks:  # all came before the payment; a reversed one claims 0
            claims[c.claim] = max(claims.get(c.claim, 0), c.minor)
            self._claw(p, c, sum(claims.values()), at)
        if m is not None:
            m.expire(at)
        return True

    def claw_back(self, p: EventPayment, cid: str, claim: str, minor: int, at: dt.datetime) -> str | None:
        """The payment's state after a new clawback ("granted" or "pending"); None for a replay."""
        if p.clawback(cid) is not None:
            return None
        c = ModelClawback(cid, claim, minor)
        p.clawbacks.append(c)
        if p.state != "granted":
            return "pending"
        m = self.wallets.get(p.wallet)
        if m is not None:
            m.expire(at)
        claims: dict[str, int] = {}
        for seen in p.clawbacks:
            claims[seen.claim] = max(claims.get(seen.claim, 0), seen.minor)
        self._claw(p, c, sum(claims.values()), at)
        return "granted"

    def won(self, p: EventPayment, dispute_id: str, at: dt.datetime) -> str:
        """The Reversal's state: replayed, recorded (nothing to give back) or reversed."""
        c = p.clawback(dispute_id)
        if c is not None and c.state == "reversed":
            return "replayed"
        if c is None:
            c = ModelClawback(dispute_id, f"dispute:{dispute_id}", 0)
            p.clawbacks.append(c)
        credits = c.credits if c.state == "applied" else 0
        c.state, c.minor = "reversed", 0
        if credits <= 0 or p.state != "granted":
            return "recorded"
        m = self.wallets.get(p.wallet)
        if m is not None:
            m.expire(at)
            m.credit("dispute_won", dispute_id, credits, None)
        else:
            self.sharded[p.wallet].net += credits
        p.clawed -= credits
        return "reversed"

    def _claw(self, p: EventPayment, c: ModelClawback, claimed: int, at: dt.datetime) -> None:
        due = share(p.credits, claimed, p.paid) - p.clawed
        c.state, c.credits = "applied", max(due, 0)
        if due <= 0:
            return
        m = self.wallets.get(p.wallet)
        if m is not None:
            taken = min(m.available, due)
            m.take_others_first(taken)
            m.clawed_back += taken
            m.debt += due - taken
        else:
            self.sharded[p.wallet].net -= due
        p.clawed += due
