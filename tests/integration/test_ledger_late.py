"""A settle that arrives after the reconciler expired its hold (a stream or a speech session that outlived
the hold) still charges what was used: from what is available, the rest as debt, once. Never 0."""

from __future__ import annotations

import pytest
from google.cloud import firestore

from shared import clock
from shared.errors import BadRequest
from shared.ledger.errors import HoldNotFound, PaymentDebt
from shared.ledger.ledger import Ledger
from tests.support.ledger import check_invariants, ledger_settings, new_wallet

pytestmark = pytest.mark.anyio


@pytest.fixture
def ledger(db: firestore.AsyncClient) -> Ledger:
    return Ledger(db, ledger_settings(hold_ttl_s=900))


async def expired_hold(ledger: Ledger, wallet: str, hold_id: str, amount: int) -> None:
    """A hold already due (negative ttl) that the reconciler then expires: its credits come back."""
    await ledger.reserve(wallet, hold_id, want=amount, minimum=1, ttl_s=-1)
    assert await ledger.expire(wallet, hold_id)


async def test_a_settle_after_expiry_charges_what_was_used_once(
    db: firestore.AsyncClient, ledger: Ledger
) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 1_000, "start")
    await expired_hold(ledger, wallet, "h1", 300)
    assert (await ledger.balance(wallet)).available == 1_000  # released by the reconciler

    late = await ledger.settle(wallet, "h1", 120)
    assert (late.state, late.charged) == ("expired", 120)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"], w["clawed_back"]) == (880, 0, 120)

    again = await ledger.settle(wallet, "h1", 120)  # a redelivered settle changes nothing
    assert again.charged == 120
    assert (await check_invariants(db, wallet))["available"] == 880


async def test_a_late_charge_is_capped_at_the_hold_and_what_is_missing_becomes_debt(
    db: firestore.AsyncClient, ledger: Ledger
) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 500, "start")
    await expired_hold(ledger, wallet, "h1", 400)
    await ledger.reserve(wallet, "h2", want=450, minimum=450)  # spent meanwhile: 50 left
    late = await ledger.settle(wallet, "h1", 10_000)
    assert late.charged == 400  # never more than the hold
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"]) == (0, 350)
    with pytest.raises(PaymentDebt):  # owing, nothing more is reserved
        await ledger.reserve(wallet, "h3", want=1, minimum=1)
    await ledger.grant(wallet, 1_000, "top-up")  # a top-up pays the debt first
    w = await check_invariants(db, wallet)
    assert (w["available"], w["debt"]) == (650, 0)


async def test_a_void_or_a_zero_settle_after_expiry_charges_nothing(
    db: firestore.AsyncClient, ledger: Ledger
) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 100, "start")
    await expired_hold(ledger, wallet, "h1", 60)
    assert (await ledger.void(wallet, "h1")).charged == 0
    assert (await ledger.settle(wallet, "h1", 0)).charged == 0
    assert (await check_invariants(db, wallet))["available"] == 100


async def test_a_heartbeat_keeps_a_live_hold_from_expiring(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 100, "start")
    await ledger.reserve(wallet, "live", want=50, minimum=1, ttl_s=-1)  # already due
    extended = await ledger.extend(wallet, "live", 900)
    assert extended.state == "pending" and extended.expires_at > clock.now()
    assert not await ledger.expire(wallet, "live")  # the reconciler leaves it alone now
    assert (await ledger.settle(wallet, "live", 30)).charged == 30
    finished = await ledger.extend(wallet, "live", 900)  # a beat after the end changes nothing
    assert (finished.state, finished.charged) == ("settled", 30)
    with pytest.raises(HoldNotFound):
        await ledger.extend(wallet, "missing", 900)
    with pytest.raises(BadRequest):
        await ledger.extend(wallet, "live", 0)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"]) == (70, 0)
