"""Purchases and clawbacks in the ledger (Firestore emulator): once per external id, debt instead of a
negative balance, spending refused while in debt, out-of-order refunds; invariants after every step."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from google.cloud import firestore

from shared.errors import BadRequest
from shared.ledger.errors import PaymentDebt
from shared.ledger.ledger import Ledger
from shared.purchases.payments import Purchases, share
from tests.support.ledger import (
    check_invariants,
    ledger_settings,
    new_wallet,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def ledger(db: firestore.AsyncClient) -> Ledger:
    return Ledger(db, ledger_settings(hold_ttl_s=900))


@pytest.fixture
def purchases(db: firestore.AsyncClient, ledger: Ledger) -> Purchases:
    return Purchases(db, ledger)


def pay_id() -> str:
    return "pi_" + uuid.uuid4().hex


def test_share_is_proportional_and_rounds_down() -> None:
    assert share(1_000, 250, 1_000) == 250
    assert share(1_000, 1, 3) == 333
    assert share(1_000, 5_000, 1_000) == 1_000
    assert share(1_000, 0, 1_000) == 0


async def test_purchase_grants_once_even_in_parallel(db: firestore.AsyncClient, purchases: Purchases) -> None:
    wallet, pid = new_wallet(), pay_id()
    outcomes = await asyncio.gather(
        *(purchases.purchase("stripe", pid, wallet, 5_000, 500, "usd") for _ in range(3))
    )
    assert sorted(o.applied for o in outcomes) == [False, False, True]
    w = await check_invariants(db, wallet)
    assert (w["available"], w["granted"]) == (5_000, 5_000)


async def test_refund_before_payment_ends_correct(db: firestore.AsyncClient, purchases: Purchases) -> None:
    wallet, pid = new_wallet(), pay_id()
    early = await purchases.claw_back("stripe", pid, "re_1", "refund", 200, wallet_id=wallet)
    assert (early.applied, early.state, early.taken) == (True, "pending", 0)
    assert not (await db.collection("wallets").document(wallet).get()).exists
    assert not (await purchases.claw_back("stripe", pid, "re_1", "refund", 200)).applied

    granted = await purchases.purchase("stripe", pid, wallet, 10_000, 1_000, "usd")
    assert (granted.granted, granted.taken, granted.debt) == (10_000, 2_000, 0)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["granted"], w["clawed_back"], w["debt"]) == (8_000, 10_000, 2_000, 0)

    # The rest of the refund, reported as a running total; a stale total afterwards changes nothing.
    rest = await purchases.claw_back("stripe", pid, "re_2", "refund", 1_000)
    assert (rest.taken, rest.debt) == (8_000, 0)
    assert (await purchases.claw_back("stripe", pid, "re_old", "refund", 200)).taken == 0
    w = await check_invariants(db, wallet)
    assert (w["available"], w["clawed_back"], w["debt"]) == (0, 10_000, 0)


async def test_dispute_after_spend_makes_debt_that_blocks_spending_until_paid(
    db: firestore.AsyncClient, ledger: Ledger, purchases: Purchases
) -> None:
    wallet, pid = new_wallet(), pay_id()
    await purchases.purchase("stripe", pid, wallet, 10_000, 1_000, "usd")
    await ledger.reserve(wallet, "spent", want=6_000, minimum=1)
    await ledger.settle(wallet, "spent", 6_000)
    await ledger.reserve(wallet, "running", want=1_000, minimum=1)
    await check_invariants(db, wallet)

    dispute = await purchases.claw_back("stripe", pid, "dp_1", "dispute:dp_1", 1_000)
    assert (dispute.taken, dispute.debt) == (3_000, 7_000)
    assert not (await purchases.claw_back("stripe", pid, "dp_1", "dispute:dp_1", 1_000)).applied
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["debt"]) == (0, 1_000, 7_000)

    with pytest.raises(PaymentDebt) as refused:
        await ledger.reserve(wallet, "blocked", want=10, minimum=1)
    assert (refused.value.status, refused.value.code) == (402, "payment_debt")
    assert "7000" in refused.value.message and "/v1/billing/checkout" in refused.value.message
    assert await ledger.hold(wallet, "blocked") is None

    # The running request finishes: what it releases pays the debt.
    await ledger.settle(wallet, "running", 400)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"]) == (0, 6_400)

    top_up = await purchases.purchase("stripe", pay_id(), wallet, 10_000, 1_000, "usd")
    assert top_up.applied
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"]) == (3_600, 0)
    await ledger.reserve(wallet, "again", want=100, minimum=1)
    await check_invariants(db, wallet)


async def test_plain_grant_pays_debt_first(
    db: firestore.AsyncClient, ledger: Ledger, purchases: Purchases
) -> None:
    wallet, pid = new_wallet(), pay_id()
    await purchases.purchase("stripe", pid, wallet, 1_000, 100, "usd")
    await ledger.reserve(wallet, "h", want=1_000, minimum=1)
    await ledger.settle(wallet, "h", 1_000)
    await purchases.claw_back("stripe", pid, "dp_x", "dispute:dp_x", 100)
    assert (await check_invariants(db, wallet))["debt"] == 1_000
    assert await ledger.grant(wallet, 300, "promo-1")
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"]) == (0, 700)
    assert await ledger.grant(wallet, 1_000, "promo-2")
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"]) == (300, 0)


@pytest.mark.parametrize("kind", ["clawback", "debt_paid"])
async def test_grants_cannot_pose_as_debits(ledger: Ledger, kind: str) -> None:
    with pytest.raises(BadRequest):
        await ledger.grant(new_wallet(), 10, "x", kind=kind)


async def test_bad_purchases_and_clawbacks_change_nothing(
    db: firestore.AsyncClient, purchases: Purchases
) -> None:
    wallet, pid = new_wallet(), pay_id()
    for bad in ((0, 100), (100, 0), (-1, 100)):
        with pytest.raises(BadRequest):
            await purchases.purchase("stripe", pid, wallet, *bad, "usd")
    for clawback_id, claim, minor in (("", "refund", 1), ("r", "", 1), ("r", "refund", 0)):
        with pytest.raises(BadRequest):
            await purchases.claw_back("stripe", pid, clawback_id, claim, minor, wallet_id=wallet)
    assert await purchases.payment("stripe", pid) is None
    assert not (await db.collection("wallets").document(wallet).get()).exists
