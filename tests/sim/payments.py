"""Payments in the simulator: purchases granted once per payment, refunds and disputes clawing back their
share, clawbacks that arrive before their payment; the model of shared/purchases/payments.py."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.ledger.lots import lot_id
from shared.purchases.payments import PaymentOutcome, share
from tests.sim.calls import Retry, Violation
from tests.sim.model import ModelWallet

if TYPE_CHECKING:
    from tests.sim.world import World

PROVIDER = "stripe"
Outcome = tuple[bool, str, int, int, int]  # applied, state, granted, taken, debt


@dataclass
class ModelPayment:
    wallet: str
    state: str = "pending"
    credits: int = 0
    paid: int = 0
    lot: str | None = None
    clawed: int = 0
    clawbacks: list[tuple[str, str, int]] = field(default_factory=list)  # (id, claim, minor)


def outcome(o: PaymentOutcome) -> Outcome:
    return (o.applied, o.state, o.granted, o.taken, o.debt)


class ModelPayments:
    def __init__(self, wallets: dict[str, ModelWallet]) -> None:
        self.wallets = wallets
        self.payments: dict[str, ModelPayment] = {}

    def purchase(
        self, pid: str, wallet: str, credits: int, paid: int, at: dt.datetime, ends: dt.datetime | None
    ) -> Outcome:
        p = self.payments.setdefault(pid, ModelPayment(wallet))
        if p.state == "granted":
            return (False, "granted", 0, 0, 0)
        m = self.wallets[wallet]
        ref = f"{PROVIDER}:{pid}"
        m.expire(at)
        m.credit("purchase", ref, credits, ends)
        p.wallet, p.state, p.credits, p.paid = wallet, "granted", credits, paid
        p.lot = lot_id("purchase", ref) if ends is not None else None
        taken = debt = 0
        claims: dict[str, int] = {}
        for _, claim, minor in p.clawbacks:  # all came before the payment
            claims[claim] = max(claims.get(claim, 0), minor)
            t, d = self._claw(p, m, sum(claims.values()))
            taken, debt = taken + t, debt + d
        m.expire(at)
        return (True, "granted", credits, taken, debt)

    def claw_back(self, pid: str, cid: str, claim: str, minor: int, wallet: str, at: dt.datetime) -> Outcome:
        p = self.payments.setdefault(pid, ModelPayment(wallet))
        if any(c[0] == cid for c in p.clawbacks):
            return (False, p.state, 0, 0, 0)
        p.clawbacks.append((cid, claim, minor))
        if p.state != "granted":
            return (True, "pending", 0, 0, 0)
        m = self.wallets[p.wallet]
        m.expire(at)
        claims: dict[str, int] = {}
        for _, name, amount in p.clawbacks:
            claims[name] = max(claims.get(name, 0), amount)
        taken, debt = self._claw(p, m, sum(claims.values()))
        return (True, "granted", 0, taken, debt)

    @staticmethod
    def _claw(p: ModelPayment, m: ModelWallet, claimed: int) -> tuple[int, int]:
        due = share(p.credits, claimed, p.paid) - p.clawed
        if due <= 0:
            return 0, 0
        taken = min(m.available, due)
        own = m.take_lot(p.lot, taken) if p.lot else 0
        m.take_others_first(taken - own)
        m.clawed_back += taken
        m.debt += due - taken
        p.clawed += due
        return taken, due - taken


# -- the operations -----------------------------------------------------------------------------------


def _ends(world: World) -> dt.datetime | None:
    if world.rng.random() < 0.6:
        return None
    return world.clock.at + dt.timedelta(hours=world.rng.randint(-1, 72))


def _new_payment(world: World) -> str:
    return f"{world.new_id('pi')}-{world.tag}"


async def purchase(world: World) -> str:
    """A payment event: mostly new, sometimes a replay, sometimes the payment of an earlier clawback."""
    pay, rng = world.pay, world.rng
    granted = sorted(k for k, p in pay.payments.items() if p.state == "granted")
    early = sorted(k for k, p in pay.payments.items() if p.state == "pending")
    roll = rng.random()
    if granted and roll < 0.15:
        pid = rng.choice(granted)
        wallet, credits, paid = pay.payments[pid].wallet, pay.payments[pid].credits, pay.payments[pid].paid
    else:
        pid = rng.choice(early) if early and roll < 0.5 else _new_payment(world)
        wallet = pay.payments[pid].wallet if pid in pay.payments else world.wallet()
        credits = rng.randint(100, 3_000)
        paid = credits
    ends = _ends(world)
    text, _ = await world.call(
        f"purchase({pid}, {wallet[-4:]}, {credits}, ends={ends})",
        wallet,
        lambda i: i.purchases.purchase(PROVIDER, pid, wallet, credits, paid, "usd", expires_at=ends),
        lambda: pay.purchase(pid, wallet, credits, paid, world.clock.at, ends),
        outcome,
    )
    return text


async def claw_back(world: World) -> str:
    """A refund (a running total) or a dispute, mostly of a granted payment, sometimes before it."""
    pay, rng = world.pay, world.rng
    granted = sorted(k for k, p in pay.payments.items() if p.state == "granted")
    pid = rng.choice(granted) if granted and rng.random() < 0.85 else _new_payment(world)
    known = pay.payments.get(pid)
    wallet = known.wallet if known else world.wallet()
    if known and known.clawbacks and rng.random() < 0.1:
        cid, claim, minor = rng.choice(known.clawbacks)  # the same event again
    else:
        cid = world.new_id("cb")
        claim = rng.choice(["refund", f"dispute:{rng.randint(1, 2)}"])
        paid = known.paid if known and known.paid else 1_000
        minor = rng.randint(max(paid // 4, 1), paid)
    text, _ = await world.call(
        f"claw_back({pid}, {cid}, {claim}, {minor})",
        wallet,
        lambda i: i.purchases.claw_back(PROVIDER, pid, cid, claim, minor, wallet_id=wallet),
        lambda: pay.claw_back(pid, cid, claim, minor, wallet, world.clock.at),
        outcome,
    )
    return text


async def racing_purchases(world: World) -> str:
    """One payment event delivered to two instances at the same moment: granted once."""
    pay = world.pay
    pid, wallet, credits = _new_payment(world), world.wallet(), world.rng.randint(100, 3_000)
    world.plan.start()
    results = await asyncio.gather(
        *(i.purchases.purchase(PROVIDER, pid, wallet, credits, credits, "usd") for i in world.instances),
        return_exceptions=True,
    )
    applied = [r for r in results if isinstance(r, PaymentOutcome) and r.applied]
    if len(applied) > 1:
        raise Violation(f"racing purchase {pid} granted {len(applied)} times")
    stored = await world.instances[0].purchases.payment(PROVIDER, pid)
    if stored is not None and stored.get("state") == "granted":
        want = pay.purchase(pid, wallet, credits, credits, world.clock.at, None)
        for r in applied:
            world.same(f"racing purchase({pid})", outcome(r), want)
    else:
        world.retries.append(
            Retry(
                f"purchase({pid})",
                wallet,
                lambda i: i.purchases.purchase(PROVIDER, pid, wallet, credits, credits, "usd"),
                lambda: pay.purchase(pid, wallet, credits, credits, world.clock.at, None),
                outcome,
            )
        )
    shown = [outcome(r) if isinstance(r, PaymentOutcome) else type(r).__name__ for r in results]
    return f"racing purchases {pid} -> {shown}"
