"""A lease's progress on its hold (shared/ledger/progress.py): recorded idempotently by seq, written with
the usage records in one transaction, and charged by whatever finishes the hold: an expiry after a crash
charges what was recorded, a settle after that expiry charges only the difference, once."""

from __future__ import annotations

import datetime as dt

import pytest
from google.cloud import firestore

from shared.errors import BadRequest
from shared.ledger.errors import HoldNotFound
from shared.ledger.ledger import Ledger
from tests.support.ledger import check_invariants, ledger_settings, new_wallet
from tests.support.lots import Clock

pytestmark = pytest.mark.anyio


@pytest.fixture
def ledger(db: firestore.AsyncClient) -> Ledger:
    return Ledger(db, ledger_settings(hold_ttl_s=900))


def record(db: firestore.AsyncClient, record_id: str, credits: int) -> tuple[object, dict[str, object]]:
    return db.collection("usage").document(record_id), {"credits": credits, "feature": "chat"}


async def test_progress_is_idempotent_by_seq_and_writes_its_records(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet, rid = new_wallet(), new_wallet()
    await ledger.grant(wallet, 100_000, "start")
    await ledger.reserve(wallet, "lease-1", want=50_000, minimum=50_000, ttl_s=120)
    first = await ledger.record_progress(wallet, "lease-1", 700, 1, 120, [record(db, f"{rid}-a", 700)])
    assert (await db.collection("usage").document(f"{rid}-a").get()).to_dict()["credits"] == 700
    clock.advance(dt.timedelta(seconds=30))
    later = await ledger.record_progress(wallet, "lease-1", 1_000, 2, 120, [record(db, f"{rid}-b", 300)])
    assert later.expires_at > first.expires_at  # each flush keeps the lease alive

    # Replays (the same seq, or an older one arriving late) change nothing, not even the records.
    await ledger.record_progress(wallet, "lease-1", 700, 1, 120, [record(db, f"{rid}-c", 1)])
    await ledger.record_progress(wallet, "lease-1", 1_000, 2, 120, [])
    doc = (await ledger.docs.hold(wallet, "lease-1").get()).to_dict()
    assert (doc["used"], doc["progress_seq"], doc["state"]) == (1_000, 2, "pending")
    assert not (await db.collection("usage").document(f"{rid}-c").get()).exists
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (50_000, 50_000, 0)  # nothing charged yet

    settled = await ledger.settle(wallet, "lease-1", 1_000)
    assert (settled.state, settled.charged) == ("settled", 1_000)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (99_000, 0, 1_000)


async def test_progress_refuses_more_than_the_hold_and_an_unknown_hold(ledger: Ledger) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 10_000, "start")
    await ledger.reserve(wallet, "lease-1", want=5_000, minimum=5_000)
    with pytest.raises(BadRequest):
        await ledger.record_progress(wallet, "lease-1", 5_001, 1, 120)
    with pytest.raises(BadRequest):
        await ledger.record_progress(wallet, "lease-1", 10, 0, 120)
    with pytest.raises(HoldNotFound):
        await ledger.record_progress(wallet, "nope", 10, 1, 120)
    doc = (await ledger.docs.hold(wallet, "lease-1").get()).to_dict()
    assert "used" not in doc


async def test_an_expiry_charges_the_recorded_progress_and_a_late_settle_only_the_rest_once(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 100_000, "start")
    await ledger.reserve(wallet, "lease-1", want=50_000, minimum=50_000, ttl_s=120)
    await ledger.record_progress(wallet, "lease-1", 4_000, 1, 120)
    clock.advance(dt.timedelta(seconds=121))  # the instance died: no flush kept the lease alive
    assert await ledger.expire_due() >= 1
    hold = await ledger.hold(wallet, "lease-1")
    assert hold is not None and (hold.state, hold.charged) == ("expired", 4_000)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (96_000, 0, 4_000)

    # The instance was only slow: its close settles everything it used, 4,000 of it already charged.
    late = await ledger.settle(wallet, "lease-1", 6_500)
    assert (late.state, late.charged) == ("expired", 6_500)
    again = await ledger.settle(wallet, "lease-1", 6_500)
    assert again.charged == 6_500
    w = await check_invariants(db, wallet)
    assert (w["available"], w["settled"], w["clawed_back"], w["debt"]) == (93_500, 4_000, 2_500, 0)
    # A settle for no more than the expiry charged adds nothing.
    other = new_wallet()
    await ledger.grant(other, 10_000, "start")
    await ledger.reserve(other, "lease-2", want=5_000, minimum=5_000, ttl_s=120)
    await ledger.record_progress(other, "lease-2", 900, 1, 120)
    clock.advance(dt.timedelta(seconds=121))
    assert await ledger.expire(other, "lease-2")
    assert (await ledger.settle(other, "lease-2", 900)).charged == 900
    w = await check_invariants(db, other)
    assert (w["available"], w["settled"], w["clawed_back"]) == (9_100, 900, 0)


async def test_progress_after_expiry_writes_records_but_moves_no_money(
    db: firestore.AsyncClient, ledger: Ledger, clock: Clock
) -> None:
    wallet, rid = new_wallet(), new_wallet()
    await ledger.grant(wallet, 10_000, "start")
    await ledger.reserve(wallet, "lease-1", want=5_000, minimum=5_000, ttl_s=120)
    clock.advance(dt.timedelta(seconds=121))
    assert await ledger.expire(wallet, "lease-1")
    hold = await ledger.record_progress(wallet, "lease-1", 300, 1, 120, [record(db, rid, 300)])
    assert (hold.state, hold.charged) == ("expired", 0)
    assert (await db.collection("usage").document(rid).get()).exists
    assert (await ledger.settle(wallet, "lease-1", 300)).charged == 300  # the close charges it, late
    w = await check_invariants(db, wallet)
    assert (w["available"], w["clawed_back"]) == (9_700, 300)
