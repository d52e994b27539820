"""SSLCommerz through the real handler (PaymentWebhooks.sslcommerz: verify_sign, the event store, Orders
with its validation call, Funding): an order is created as checkout creates it, then its IPN and the
buyer's success redirect arrive, alone or at the same moment, now or later, again and again; the
validation API is down now and then; the process may die between the grant and the order's update; the
reconciler re-validates pending orders that were notified (Orders.confirm, as recheck_pending does, for
this run's orders only: the emulator is shared with other tests' orders).

Checks after each step: a payment is granted only when its validation answer is VALID, matches the order
and is not flagged risky; granted once (the wallets against the model); an order marked paid has its
payment granted; an answer never says paid for a payment that is not. At the end every good order is
paid and granted, every other one granted nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.purchases.errors import ProviderUnavailable
from tests.fakes.sslcommerz import sign
from tests.sim.calls import Violation
from tests.sim.event_model import EventPayment
from tests.sim.faults import CALLER_ERRORS, Crash
from tests.sim.hooks import CONFIG, STORE_ID

if TYPE_CHECKING:
    from tests.sim.world import Instance, World

PROVIDER = "sslcommerz"
GOOD = "good"
# What the validation API says of a payment, by weight: paid as ordered, or an amount that differs,
# a payment flagged risky, a failed one.
ANSWERS = {GOOD: 0.7, "mismatch": 0.1, "risky": 0.1, "failed": 0.1}
END_STATES = {GOOD: "paid", "mismatch": "mismatched", "risky": "review", "failed": "failed"}


@dataclass
class Order:
    tran_id: str
    wallet: str
    answer: str
    form: dict[str, str]
    notified: bool = False


def _form(tran_id: str, val_id: str, amount: str, password: str) -> dict[str, str]:
    form = {
        "status": "VALID",
        "tran_id": tran_id,
        "val_id": val_id,
        "amount": amount,
        "currency": "BDT",
        "store_id": STORE_ID,
    }
    form["verify_key"] = ",".join(sorted(form))
    form["verify_sign"] = sign(form, password)
    return form


def _answer(kind: str, tran_id: str, val_id: str, amount: str) -> dict[str, Any]:
    paid = str(Decimal(amount) - 1) if kind == "mismatch" else amount
    return {
        "status": "FAILED" if kind == "failed" else "VALID",
        "tran_id": tran_id,
        "val_id": val_id,
        "amount": paid,
        "currency": "BDT",
        "currency_type": "BDT",
        "currency_amount": paid,
        "risk_level": "1" if kind == "risky" else "0",
        "risk_title": "Risky" if kind == "risky" else "Safe",
    }


async def post(world: World, instance: Instance, form: dict[str, str]) -> tuple[int, str] | str:
    try:
        status, body = await instance.hooks.sslcommerz(form)
        return status, str(body.get("state"))
    except Crash:
        return "crash"
    except CALLER_ERRORS:
        return "500"  # a Firestore error escapes the handler: the function answers 500


async def notify(world: World, order: Order, racing: bool) -> str:
    """The IPN (and, racing it, the browser's success redirect: the same handler) for `order`."""
    world.plan.start()
    world.plan.crashing = True
    try:
        targets = world.instances if racing else [world.rng.choice(world.instances)]
        answers = await asyncio.gather(*(post(world, i, order.form) for i in targets))
    finally:
        world.plan.crashing = False
    order.notified = True
    for a in answers:
        if isinstance(a, str) or a[0] == 503:  # no answer, or the validation API was down
            continue
        if a[0] != 200 or a[1] not in ("pending", END_STATES[order.answer]):
            raise Violation(f"sslcommerz {order.tran_id} ({order.answer}) answered {a}")
    await check(world, order)
    how, shown = " racing its redirect" if racing else "", sorted(map(str, answers))
    return f"sslcommerz {order.tran_id} ({order.answer}){how} -> {shown} {world.plan.current}"


async def check(world: World, order: Order) -> None:
    """The model follows the payment document; a grant must be for a good answer, and a paid order's."""
    p = world.events.payments[f"{PROVIDER}:{order.tran_id}"]
    doc = await world.instances[0].purchases.payment(PROVIDER, order.tran_id) or {}
    state = (await world.instances[0].orders.get(order.tran_id) or {}).get("state")
    granted = doc.get("state") == "granted"
    if granted and order.answer != GOOD:
        raise Violation(f"sslcommerz {order.tran_id} granted for a {order.answer} validation")
    if state == "paid" and not granted:
        raise Violation(f"sslcommerz order {order.tran_id} is paid but its payment is not granted")
    if state not in ("pending", END_STATES[order.answer]):
        raise Violation(f"sslcommerz order {order.tran_id} ({order.answer}) is {state}")
    if granted and p.state != "granted":
        world.events.purchase(p, world.clock.at)
    elif p.state == "granted" and not granted:
        raise Violation(f"sslcommerz payment {order.tran_id} was granted and is not any more")


# -- the operations -----------------------------------------------------------------------------------------


async def pay(world: World) -> str:
    """Checkout creates the order; SSLCommerz's notifications come now (IPN alone or racing the
    redirect) or later."""
    rng = world.rng
    package = CONFIG.ssl_packages["sim-bdt"]
    wallet = rng.choice(sorted(world.sharded)) if rng.random() < 0.3 else world.wallet()
    workspace = wallet.removeprefix("ws-") if wallet in world.sharded else None
    tran_id = await world.instances[0].orders.create("u-sim", wallet, package, workspace)
    val_id = f"val_{world.new_id('v')}_{world.tag}"
    amount = str(package.amount)
    kind = rng.choices(list(ANSWERS), list(ANSWERS.values()))[0]
    world.gateway.answers[val_id] = _answer(kind, tran_id, val_id, amount)
    order = Order(tran_id, wallet, kind, _form(tran_id, val_id, amount, world.keys.store_password))
    world.orders[tran_id] = order
    minor = int(package.amount * 100)
    world.events.payments[f"{PROVIDER}:{tran_id}"] = EventPayment(
        PROVIDER, tran_id, wallet, package.credits, minor
    )
    roll = rng.random()
    if roll < 0.2:
        return f"sslcommerz {tran_id} ({kind}) ordered, notified later"
    return await notify(world, order, racing=roll < 0.5)


async def renotify(world: World) -> str:
    """A notification again, or for the first time: a late IPN, the buyer reloading the success page."""
    if not world.orders:
        return "sslcommerz renotify: no order"
    order = world.rng.choice(list(world.orders.values()))  # in the order they came: tran ids are random
    return await notify(world, order, racing=world.rng.random() < 0.2)


async def recheck(world: World) -> str:
    """The reconciler: every pending order of this run that was notified is validated again."""
    world.plan.start()
    counts: dict[str, int] = {}
    for order in world.orders.values():
        stored = await world.instances[0].orders.get(order.tran_id) or {}
        if stored.get("state") != "pending" or not stored.get("val_id"):
            continue
        try:
            state = await world.rng.choice(world.instances).orders.confirm(
                order.tran_id, str(stored["val_id"])
            )
        except ProviderUnavailable:
            state = "pending"
        except CALLER_ERRORS:
            state = "error"
        counts[state] = counts.get(state, 0) + 1
        await check(world, order)
    return f"sslcommerz recheck -> {counts} {world.plan.current}"


async def drain(world: World) -> None:
    """The end, with no faults: every order notified once more, the reconciler runs; every good order is
    paid and granted, every other one granted nothing."""
    for order in world.orders.values():
        world.recent.append(await notify(world, order, racing=False))
    world.recent.append(await recheck(world))
    for order in world.orders.values():
        state = (await world.instances[0].orders.get(order.tran_id) or {}).get("state")
        p = world.events.payments[f"{PROVIDER}:{order.tran_id}"]
        want = (END_STATES[order.answer], "granted" if order.answer == GOOD else "pending")
        if (state, p.state) != want:
            raise Violation(f"sslcommerz order {order.tran_id} ended {state}, {p.state}; it should be {want}")
