"""Expiring credits (Firestore emulator, controlled clock): grants with an expiry form lots, spending
takes the soonest-expiring first, what a hold gives back to an expired lot expires, the lot sweep
expires each lot once, and debt and clawbacks treat lots as designed. Invariants after every step."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid

import pytest
from google.cloud import firestore

from shared.errors import BadRequest
from shared.ledger.errors import InsufficientCredits
from shared.ledger.ledger import Ledger
from shared.ledger.lots import lot_id
from shared.purchases.payments import Purchases
from tests.support.ledger import check_invariants, close_client, ledger_settings
from tests.support.lots import DAY, HOUR, Clock, entry_kinds, hold_drawn, lots_of, wallet_doc

pytestmark = pytest.mark.anyio

A, B = lot_id("grant", "plan-a"), lot_id("grant", "plan-b")


@pytest.fixture
def ledger(db: firestore.AsyncClient) -> Ledger:
    return Ledger(db, ledger_settings(hold_ttl_s=3600))


def new_wallet() -> str:
    return "w-lots-" + uuid.uuid4().hex


async def test_soonest_lot_is_drawn_first_then_the_rest(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet, t0 = new_wallet(), clock.at
    await ledger.grant(wallet, 100, "top-up", kind="purchase")
    await ledger.grant(wallet, 50, "plan-b", expires_at=t0 + 20 * DAY)
    await ledger.grant(wallet, 30, "plan-a", expires_at=t0 + 10 * DAY)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["granted"]) == (180, 180)
    assert (await wallet_doc(db, wallet))["next_lot_expiry"] == t0 + 10 * DAY

    await ledger.reserve(wallet, "h1", want=60, minimum=60)
    assert await hold_drawn(db, wallet, "h1") == {A: 30, B: 30}
    assert await lots_of(db, wallet) == {A: (0, t0 + 10 * DAY), B: (20, t0 + 20 * DAY)}
    await ledger.reserve(wallet, "h2", want=40, minimum=40)
    assert await hold_drawn(db, wallet, "h2") == {B: 20}  # and 20 of the credits that never expire
    await check_invariants(db, wallet)

    # The charge counts against the soonest lot: A keeps nothing of its 10 charged, B gets all 30 back.
    await ledger.settle(wallet, "h1", 10)
    assert await lots_of(db, wallet) == {A: (20, t0 + 10 * DAY), B: (30, t0 + 20 * DAY)}
    await ledger.void(wallet, "h2")
    assert await lots_of(db, wallet) == {A: (20, t0 + 10 * DAY), B: (50, t0 + 20 * DAY)}
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"], w["expired"]) == (170, 0, 10, 0)

    expiring = [(e.amount, e.expires_at) for e in await ledger.expiring(wallet)]
    assert expiring == [(20, t0 + 10 * DAY), (50, t0 + 20 * DAY)]
    clock.advance(10 * DAY)  # A is due now (expires_at <= now): not spendable, swept or not
    assert (await ledger.balance(wallet)).available == 150
    assert [(e.amount, e.expires_at) for e in await ledger.expiring(wallet)] == [(50, t0 + 20 * DAY)]
    with pytest.raises(InsufficientCredits) as short:
        await ledger.reserve(wallet, "h3", want=160, minimum=160)
    assert short.value.available == 150
    assert await ledger.expire_wallet_lots(wallet) == 1
    assert await ledger.expire_wallet_lots(wallet) == 0
    w = await check_invariants(db, wallet)
    assert (w["available"], w["expired"]) == (150, 20)
    assert (await wallet_doc(db, wallet))["next_lot_expiry"] == t0 + 20 * DAY


async def test_a_hold_that_outlives_its_lot_gives_back_nothing_spendable(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet, t0 = new_wallet(), clock.at
    await ledger.grant(wallet, 100, "plan-a", expires_at=t0 + HOUR)
    await ledger.grant(wallet, 10, "top-up")
    await ledger.reserve(wallet, "long", want=80, minimum=80, ttl_s=7200)
    await ledger.reserve(wallet, "swept", want=30, minimum=30, ttl_s=7200)  # 20 of A, 10 that stay
    assert await hold_drawn(db, wallet, "swept") == {A: 20}
    clock.advance(HOUR)

    # Settling expires the lot first (nothing left in it), then what goes back to it expires too.
    settled = await ledger.settle(wallet, "long", 30)
    assert (settled.state, settled.charged) == ("settled", 30)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["expired"], w["settled"]) == (0, 30, 50, 30)
    assert await lots_of(db, wallet) == {}
    assert "next_lot_expiry" not in await wallet_doc(db, wallet)
    # The charge is counted against the expired lot first: the 10 credits that never expire come back.
    await ledger.settle(wallet, "swept", 5)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["expired"], w["settled"]) == (10, 0, 65, 35)
    assert (await ledger.balance(wallet)).available == 10
    with pytest.raises(InsufficientCredits):
        await ledger.reserve(wallet, "more", want=11, minimum=11)
    assert [k for k, _ in await entry_kinds(db, wallet)].count("lot_expired") == 2


async def test_the_reconciler_expiring_a_hold_after_its_lot(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet, t0 = new_wallet(), clock.at
    await ledger.grant(wallet, 100, "plan-a", expires_at=t0 + DAY)
    await ledger.reserve(wallet, "lost", want=60, minimum=1, ttl_s=2 * 86_400)
    clock.advance(DAY)
    assert await ledger.expire_wallet_lots(wallet) == 1
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["expired"]) == (0, 60, 40)
    clock.advance(DAY)
    assert await ledger.expire(wallet, "lost")
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["expired"]) == (0, 0, 100)


async def test_sweep_expires_each_lot_once_even_concurrently(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    t0 = clock.at
    wallets = [new_wallet() for _ in range(5)]
    for i, wallet in enumerate(wallets):
        await ledger.grant(wallet, 100 + i, "plan-a", expires_at=t0 + DAY)
        await ledger.grant(wallet, 7, "plan-b", expires_at=t0 + 3 * DAY)
        await ledger.grant(wallet, 1_000, "top-up")
    await ledger.reserve(wallets[0], "h", want=50, minimum=50)  # wallet 0's lot A keeps 50
    assert await ledger.expire_lots() >= 0
    for wallet in wallets:
        assert (await check_invariants(db, wallet))["expired"] == 0

    clock.advance(DAY)
    clients = [firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"]) for _ in range(4)]
    try:
        sweepers = [Ledger(c, ledger_settings()) for c in clients]
        await asyncio.gather(*(s.expire_lots(500) for s in sweepers))
        one = await asyncio.gather(*(s.expire_wallet_lots(wallets[1]) for s in sweepers))
        assert one == [0, 0, 0, 0]  # already swept
    finally:
        for c in clients:
            await close_client(c)
    for i, wallet in enumerate(wallets):
        w = await check_invariants(db, wallet)
        assert (w["expired"], w["available"]) == ((50 if i == 0 else 100 + i), 1_007)
        assert await lots_of(db, wallet) == {B: (7, t0 + 3 * DAY)}
        assert [k for k, _ in await entry_kinds(db, wallet)].count("lot_expired") == 1

    clock.advance(2 * DAY)
    racing = await asyncio.gather(*(ledger.expire_wallet_lots(wallets[2]) for _ in range(3)))
    assert sorted(racing) == [0, 0, 1]
    w = await check_invariants(db, wallets[2])
    assert (w["expired"], w["available"]) == (109, 1_000)
    assert "next_lot_expiry" not in await wallet_doc(db, wallets[2])


async def test_expiring_grant_pays_debt_before_forming_its_lot(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet, purchases, t0 = new_wallet(), Purchases(db, ledger), clock.at
    await purchases.purchase("stripe", f"pi_{wallet}", wallet, 1_000, 1_000, "usd")
    await ledger.reserve(wallet, "spend", want=1_000, minimum=1_000)
    await ledger.settle(wallet, "spend", 1_000)
    await purchases.claw_back("stripe", f"pi_{wallet}", "re_1", "refund", 1_000)
    assert (await check_invariants(db, wallet))["debt"] == 1_000

    await ledger.grant(wallet, 600, "plan-a", expires_at=t0 + DAY)  # all of it pays debt: no lot
    assert await lots_of(db, wallet) == {}
    await ledger.grant(wallet, 700, "plan-b", expires_at=t0 + DAY)
    assert await lots_of(db, wallet) == {B: (300, t0 + DAY)}
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"], w["clawed_back"]) == (300, 0, 1_000)
    clock.advance(DAY)
    assert await ledger.expire_wallet_lots(wallet) == 1
    w = await check_invariants(db, wallet)
    assert (w["available"], w["expired"]) == (0, 300)


async def test_clawback_takes_credits_that_never_expire_first(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet, purchases, t0 = new_wallet(), Purchases(db, ledger), clock.at
    await purchases.purchase("stripe", f"pi_1_{wallet}", wallet, 1_000, 1_000, "usd")
    await ledger.grant(wallet, 400, "plan-a", expires_at=t0 + DAY)
    half = await purchases.claw_back("stripe", f"pi_1_{wallet}", "re_1", "refund", 500)
    assert (half.taken, half.debt) == (500, 0)
    assert await lots_of(db, wallet) == {A: (400, t0 + DAY)}
    await check_invariants(db, wallet)

    # Spend the rest of the purchase: all that is left expires. The next refund takes it, then owes.
    await ledger.reserve(wallet, "spend", want=900, minimum=900)
    await ledger.settle(wallet, "spend", 900)
    await ledger.grant(wallet, 300, "plan-b", expires_at=t0 + 2 * DAY)
    assert await lots_of(db, wallet) == {A: (0, t0 + DAY), B: (300, t0 + 2 * DAY)}
    full = await purchases.claw_back("stripe", f"pi_1_{wallet}", "re_2", "refund", 1_000)
    assert (full.taken, full.debt) == (300, 200)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"], w["clawed_back"]) == (0, 200, 800)
    assert await lots_of(db, wallet) == {A: (0, t0 + DAY), B: (0, t0 + 2 * DAY)}


async def test_expiring_purchase_forms_a_lot_and_its_refund_takes_it_first(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet, purchases, t0 = new_wallet(), Purchases(db, ledger), clock.at
    period_end = t0 + 30 * DAY
    lot = lot_id("purchase", f"stripe:in_{wallet}")
    # A refund that arrives before its payment is applied with it, from the payment's own lot.
    early = await purchases.claw_back("stripe", f"in_{wallet}", "re_0", "refund", 100, wallet_id=wallet)
    assert early.state == "pending"
    await purchases.purchase("stripe", f"top_{wallet}", wallet, 500, 500, "usd")
    done = await purchases.purchase(
        "stripe", f"in_{wallet}", wallet, 2_000, 1_000, "usd", expires_at=period_end
    )
    assert (done.applied, done.granted, done.taken) == (True, 2_000, 200)
    assert await lots_of(db, wallet) == {lot: (1_800, period_end)}
    replay = await purchases.purchase("stripe", f"in_{wallet}", wallet, 2_000, 1_000, "usd", expires_at=t0)
    assert not replay.applied
    await purchases.claw_back("stripe", f"in_{wallet}", "re_1", "refund", 1_000)
    assert await lots_of(db, wallet) == {lot: (0, period_end)}
    w = await check_invariants(db, wallet)
    assert (w["available"], w["clawed_back"], w["debt"]) == (500, 2_000, 0)  # the top-up is untouched

    late = await purchases.purchase(
        "stripe", f"in_old_{wallet}", wallet, 300, 300, "usd", expires_at=t0 - DAY
    )
    assert late.granted == 300  # a payment for a period that is over: granted, and expired at once
    w = await check_invariants(db, wallet)
    assert (w["available"], w["expired"], w["granted"]) == (500, 300, 2_800)


async def test_grant_for_a_period_already_over_expires_at_once(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet = new_wallet()
    assert await ledger.grant(wallet, 250, "plan-a", expires_at=clock.at)
    assert not await ledger.grant(wallet, 250, "plan-a", expires_at=clock.at + DAY)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["granted"], w["expired"]) == (0, 250, 250)
    assert await entry_kinds(db, wallet) == [("grant", 250), ("lot_expired", -250)]


async def test_expiry_input_is_checked(db: firestore.AsyncClient, ledger: Ledger) -> None:
    naive = dt.datetime(2030, 1, 1)
    wallet = new_wallet()
    with pytest.raises(BadRequest):
        await ledger.grant(wallet, 10, "e", expires_at=naive)
    with pytest.raises(BadRequest):
        await ledger.grant(wallet, 10, "e", kind="lot_expired")
    with pytest.raises(BadRequest):
        await Purchases(db, ledger).purchase("stripe", "pi", wallet, 10, 10, "usd", expires_at=naive)
    assert not (await db.collection("wallets").document(wallet).get()).exists
