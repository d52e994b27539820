"""Stripe events through the real webhook handler (PaymentWebhooks.stripe: the signature, the event
store, StripeEvents, Funding, Purchases, Disputes), as Stripe sends them: signed, each event retried
until one delivery is answered 2xx, in any order, sometimes two deliveries at once, sometimes again long
after (its record deleted by the retention TTL), and with the process dying between two writes.

Each payment is a checkout (a top-up for a user's wallet or a workspace), then refunds (a running total
per charge), disputes opened and closed won or lost. Events are emitted into an outbox and delivered now
or later, so a refund or a dispute (even its close) may arrive before the payment.

After each delivery the payment document is read: whether the event's effect is stored decides whether
the model applies it (a commit whose answer was lost, or a crash after a commit, applied it although the
delivery failed). The checks: a handled answer says what the model says (the effect once, replays after);
an event answered 2xx has its effect stored, since Stripe will not send it again; balances are the model's
(tests/sim/audit.py); at the end every event emitted has been answered and applied.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import stripe

from shared.ids import stable_id
from shared.purchases.webhook_events import EVENTS
from tests.sim.calls import Violation
from tests.sim.event_model import EventPayment
from tests.sim.faults import Crash
from tests.sim.hooks import CONFIG, LEASE_S
from tests.support.payments import sign

if TYPE_CHECKING:
    from tests.sim.world import Instance, World

PROVIDER = "stripe"


@dataclass
class Emitted:
    """An event Stripe sent or will send; retried until one delivery is answered 2xx."""

    id: str
    kind: str
    obj: dict[str, Any]
    key: str  # the payment's key in the model
    effect: str  # purchase, clawback, won, none
    ref: str = ""  # the clawback's or dispute's id
    claim: str = ""
    minor: int = 0
    not_before: dt.datetime | None = None  # a crashed delivery's retry comes after Stripe's backoff
    answered: bool = False


@dataclass
class Charge:
    """What Stripe knows about one payment: its refunds so far and its disputes."""

    key: str
    refunded: int = 0
    disputes: dict[str, str] = field(default_factory=dict)  # dispute id -> open, won, lost


@dataclass
class StripeState:
    outbox: list[Emitted] = field(default_factory=list)
    answered: list[Emitted] = field(default_factory=list)
    charges: dict[str, Charge] = field(default_factory=dict)


def _key(pid: str) -> str:
    return f"{PROVIDER}:{pid}"


def emit(world: World, kind: str, obj: dict[str, Any], key: str, effect: str, **how: Any) -> Emitted:
    ev = Emitted(f"evt_{world.new_id('e')}_{world.tag}", kind, obj, key, effect, **how)
    world.stripe.outbox.append(ev)
    return ev


# -- the model's side of an event -------------------------------------------------------------------------


def modelled(world: World, ev: Emitted) -> bool:
    p = world.events.payments[ev.key]
    if ev.effect == "purchase":
        return p.state == "granted"
    c = p.clawback(ev.ref)
    if ev.effect == "clawback":
        return c is not None
    return ev.effect == "won" and c is not None and c.state == "reversed"


def stored(ev: Emitted, doc: dict[str, Any]) -> bool:
    if ev.effect == "purchase":
        return doc.get("state") == "granted"
    found = [c for c in doc.get("clawbacks", []) if c.get("id") == ev.ref]
    if ev.effect == "clawback":
        return bool(found)
    return ev.effect == "won" and bool(found) and found[0].get("state") == "reversed"


def apply(world: World, ev: Emitted) -> str:
    """The model applies the event; the outcome the handler that applied it answers."""
    p, at = world.events.payments[ev.key], world.clock.at
    if ev.effect == "purchase":
        return "granted" if world.events.purchase(p, at) else "already_granted"
    if ev.effect == "clawback":
        state = world.events.claw_back(p, ev.ref, ev.claim, ev.minor, at)
        return f"clawback_{state}" if state else "clawback_replayed"
    if ev.effect == "won":
        return f"dispute_won_{world.events.won(p, ev.ref, at)}"
    return f"dispute_{ev.obj['status']}"


def replayed(ev: Emitted) -> str:
    return {
        "purchase": "already_granted",
        "clawback": "clawback_replayed",
        "won": "dispute_won_replayed",
    }.get(ev.effect, f"dispute_{ev.obj.get('status')}")


# -- delivering ---------------------------------------------------------------------------------------------


def payload(ev: Emitted, created: int) -> str:
    event = stripe.Event.construct_from(
        {
            "id": ev.id,
            "object": "event",
            "api_version": "2025-10-29.clover",
            "created": created,
            "type": ev.kind,
            "livemode": False,
            "data": {"object": ev.obj},
        },
        "sk_test_unused",
    )
    return json.dumps(event.to_dict())


async def post(world: World, instance: Instance, body: str) -> tuple[int, dict[str, Any]] | str:
    """One delivery: (status, body), or what stopped it ("crash": no answer at all)."""
    header = sign(body, world.keys.webhook, timestamp=int(time.time()))
    try:
        return await instance.hooks.stripe({"Stripe-Signature": header}, body.encode())
    except Crash:
        return "crash"


async def deliver(world: World, ev: Emitted, racing: bool = False) -> str:
    """Deliver `ev` once (or to every instance at the same moment) and check what follows."""
    before = modelled(world, ev)
    body = payload(ev, int(world.clock.at.timestamp()))
    world.plan.start()
    world.plan.crashing = True
    try:
        targets = world.instances if racing else [world.rng.choice(world.instances)]
        answers = await asyncio.gather(*(post(world, i, body) for i in targets))
    finally:
        world.plan.crashing = False
    p = world.events.payments[ev.key]
    doc = await world.instances[0].purchases.payment(p.provider, p.pid) or {}
    now_stored = stored(ev, doc) if ev.effect != "none" else False
    if before and ev.effect != "none" and not now_stored:
        raise Violation(f"event {ev.kind} {ev.ref or p.pid}: its effect was stored and is gone")
    first = apply(world, ev) if (now_stored and not before) or ev.effect == "none" else None
    again = replayed(ev)
    handled = [a[1]["outcome"] for a in answers if isinstance(a, tuple) and "outcome" in a[1]]
    allowed = {again} | ({first} if first else set())
    if any(o not in allowed for o in handled) or (first != again and handled.count(first or "") > 1):
        raise Violation(f"{ev.kind} {ev.ref or p.pid} answered {handled}; the model says {first} / {again}")
    if any(isinstance(a, tuple) and a[0] not in (200, 409, 500) for a in answers):
        raise Violation(f"{ev.kind} {ev.ref or p.pid}: a signed event was answered {answers}")
    if any(a == "crash" for a in answers):
        ev.not_before = world.clock.at + dt.timedelta(seconds=LEASE_S + 1)
    if any(isinstance(a, tuple) and a[0] == 200 for a in answers):
        if ev.effect != "none" and not now_stored:
            raise Violation(
                f"{ev.kind} {ev.ref or p.pid} was answered 200 ({answers}) but is not applied: "
                "Stripe will not send it again"
            )
        if not ev.answered:
            ev.answered = True
            world.stripe.outbox.remove(ev)
            world.stripe.answered.append(ev)
    shown = sorted(
        str(a if isinstance(a, str) else (a[0], a[1].get("outcome") or a[1].get("error"))) for a in answers
    )
    return f"stripe {ev.kind} {ev.ref or p.pid}{' racing' if racing else ''} -> {shown} {world.plan.current}"


def ready(world: World) -> list[Emitted]:
    return [e for e in world.stripe.outbox if e.not_before is None or e.not_before <= world.clock.at]


# -- the operations -----------------------------------------------------------------------------------------


async def now_or_later(world: World, ev: Emitted) -> str:
    if world.rng.random() < 0.6:
        return await deliver(world, ev)
    return f"stripe {ev.kind} {ev.ref or ev.key} emitted, delivered later"


async def pay(world: World) -> str:
    """A checkout for a user's wallet or a workspace (paid for by its base id)."""
    rng = world.rng
    pid = f"pi_{world.new_id('p')}_{world.tag}"
    wallet = rng.choice(sorted(world.sharded)) if rng.random() < 0.3 else world.wallet()
    package = CONFIG.stripe_packages[rng.choice(sorted(CONFIG.stripe_packages))]
    key = _key(pid)
    world.events.payments[key] = EventPayment(PROVIDER, pid, wallet, package.credits, package.amount_minor)
    world.stripe.charges[key] = Charge(key)
    session = {
        "id": f"cs_{pid}",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": pid,
        "client_reference_id": wallet,
        "amount_total": package.amount_minor,
        "currency": package.currency,
        "metadata": {"wallet_id": wallet, "package": package.id},
    }
    return await now_or_later(world, emit(world, "checkout.session.completed", session, key, "purchase"))


def charge_of(world: World) -> Charge | None:
    keys = sorted(world.stripe.charges)
    return world.stripe.charges[world.rng.choice(keys)] if keys else None


def _charge_obj(p: EventPayment, **extra: Any) -> dict[str, Any]:
    return {"payment_intent": p.pid, "currency": "usd", "metadata": {"wallet_id": p.wallet}, **extra}


async def refund(world: World) -> str:
    """A refund: Stripe's charge.refunded carries the charge's running total."""
    c = charge_of(world)
    if c is None:
        return "stripe refund: no payment"
    p = world.events.payments[c.key]
    if c.refunded >= p.paid:
        return f"stripe refund: {p.pid} fully refunded"
    c.refunded = min(p.paid, c.refunded + world.rng.randint(1, max(p.paid // 2, 1)))
    charge_id = f"ch_{p.pid}"
    obj = _charge_obj(p, id=charge_id, object="charge", amount=p.paid, amount_refunded=c.refunded)
    cid = f"{charge_id}:refunded:{c.refunded}"
    ev = emit(
        world,
        "charge.refunded",
        obj,
        c.key,
        "clawback",
        ref=cid,
        claim=f"refund:{charge_id}",
        minor=c.refunded,
    )
    return await now_or_later(world, ev)


async def dispute(world: World) -> str:
    """A dispute opened (up to two a payment), or an open one closed, won or lost."""
    c = charge_of(world)
    if c is None:
        return "stripe dispute: no payment"
    p, rng = world.events.payments[c.key], world.rng
    open_ = sorted(d for d, s in c.disputes.items() if s == "open")
    if open_ and (rng.random() < 0.6 or len(c.disputes) >= 2):
        dispute_id = rng.choice(open_)
        status = rng.choice(["won", "lost"])
        c.disputes[dispute_id] = status
        obj = _charge_obj(p, id=dispute_id, object="dispute", charge=f"ch_{p.pid}", status=status)
        effect = "won" if status == "won" else "none"
        return await now_or_later(
            world, emit(world, "charge.dispute.closed", obj, c.key, effect, ref=dispute_id)
        )
    if len(c.disputes) >= 2:
        return f"stripe dispute: {p.pid} has had its disputes"
    dispute_id = f"dp_{world.new_id('d')}_{world.tag}"
    c.disputes[dispute_id] = "open"
    amount = rng.randint(max(p.paid // 4, 1), p.paid)
    obj = _charge_obj(
        p, id=dispute_id, object="dispute", charge=f"ch_{p.pid}", amount=amount, status="needs_response"
    )
    if rng.random() < 0.3:
        obj["metadata"] = {}  # a dispute names no wallet: found by its payment
    ev = emit(
        world,
        "charge.dispute.created",
        obj,
        c.key,
        "clawback",
        ref=dispute_id,
        claim=f"dispute:{dispute_id}",
        minor=amount,
    )
    return await now_or_later(world, ev)


async def redeliver(world: World) -> str:
    """Stripe retries an event no delivery of which was answered 2xx yet, in any order."""
    waiting = ready(world)
    if not waiting:
        return "stripe redeliver: nothing waiting"
    return await deliver(world, world.rng.choice(waiting))


async def racing(world: World) -> str:
    """One event delivered to two instances at the same moment (Stripe retried a slow delivery)."""
    waiting = ready(world)
    if not waiting:
        return "stripe racing: nothing waiting"
    return await deliver(world, world.rng.choice(waiting), racing=True)


async def late(world: World) -> str:
    """An event answered long ago comes again, sometimes after its record's retention (deleted)."""
    if not world.stripe.answered:
        return "stripe late: nothing answered"
    ev = world.rng.choice(world.stripe.answered)
    gone = world.rng.random() < 0.5
    if gone:
        await world.db.collection(EVENTS).document(stable_id(PROVIDER, ev.id)).delete()
    return ("after its retention: " if gone else "") + await deliver(world, ev)


async def drain(world: World) -> None:
    """The end: Stripe's retries come (after any crashed delivery's lease) until each is answered; then
    every event emitted is applied."""
    world.clock.advance(dt.timedelta(seconds=LEASE_S + 1))
    for _ in range(5):
        for ev in list(world.stripe.outbox):
            world.recent.append(await deliver(world, ev))
    if world.stripe.outbox:
        raise Violation(f"stripe events never answered with no fault: {[e.id for e in world.stripe.outbox]}")
    for ev in world.stripe.answered:
        if (
            ev.effect != "none"
            and not modelled(world, ev)
            and not (ev.effect == "won" and _reapplied(world, ev))
        ):
            raise Violation(f"stripe event {ev.kind} {ev.ref or ev.key} was answered but never applied")


def _reapplied(world: World, ev: Emitted) -> bool:
    """A dispute won before its payment: the purchase marks its reversed clawback applied (claiming 0)."""
    c = world.events.payments[ev.key].clawback(ev.ref)
    return c is not None and c.minor == 0
