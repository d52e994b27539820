"""Each ledger operation against the Firestore emulator, with every invariant checked after it."""

from __future__ import annotations

import pytest
from google.cloud import firestore

from shared.errors import BadRequest
from shared.ids import stable_id
from shared.ledger.errors import HoldNotFound, InsufficientCredits
from shared.ledger.ledger import Ledger
from tests.support.ledger import check_invariants, ledger_settings, new_wallet

pytestmark = pytest.mark.anyio


@pytest.fixture
def ledger(db: firestore.AsyncClient) -> Ledger:
    return Ledger(db, ledger_settings(hold_ttl_s=900))


async def test_grant_adds_once_per_external_id(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    assert await ledger.grant(wallet, 1_000, "evt_1")
    await check_invariants(db, wallet)
    assert not await ledger.grant(wallet, 1_000, "evt_1")
    assert not await ledger.grant(wallet, 5, "evt_1")
    await check_invariants(db, wallet)
    assert await ledger.grant(wallet, 500, "evt_1", kind="stripe")
    assert await ledger.grant(wallet, 1, "evt_2")
    w = await check_invariants(db, wallet)
    assert (w["available"], w["granted"]) == (1_501, 1_501)
    assert (await ledger.balance(wallet)).model_dump() == {"available": 1_501, "reserved": 0}


@pytest.mark.parametrize(
    ("amount", "kind", "external_id"),
    [(0, "grant", "e"), (-5, "grant", "e"), (5, "settle", "e"), (5, "grant", "")],
)
async def test_grant_rejects_bad_input(
    ledger: Ledger, db: firestore.AsyncClient, amount: int, kind: str, external_id: str
) -> None:
    wallet = new_wallet()
    with pytest.raises(BadRequest):
        await ledger.grant(wallet, amount, external_id, kind=kind)
    assert not (await db.collection("wallets").document(wallet).get()).exists


async def test_unknown_wallet_is_empty(ledger: Ledger) -> None:
    wallet = new_wallet()
    assert (await ledger.balance(wallet)).model_dump() == {"available": 0, "reserved": 0}
    assert (await ledger.entries(wallet)).model_dump() == {"data": [], "next_cursor": None}
    assert await ledger.hold(wallet, "nope") is None


async def test_reserve_then_settle_charges_and_releases(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 1_000, "g")
    hold = await ledger.reserve(wallet, "h1", want=300, minimum=100, ref="req-1")
    assert (hold.id, hold.wallet_id, hold.amount, hold.state, hold.charged) == (
        "h1",
        wallet,
        300,
        "pending",
        0,
    )
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"]) == (700, 300)
    assert await ledger.hold(wallet, "h1") == hold

    settled = await ledger.settle(wallet, "h1", 120)
    assert (settled.state, settled.charged, settled.amount) == ("settled", 120, 300)
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (880, 0, 120)
    assert await ledger.hold(wallet, "h1") == settled


async def test_replays_are_no_ops(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 1_000, "g")
    first = await ledger.reserve(wallet, "h1", want=300, minimum=100)
    assert await ledger.reserve(wallet, "h1", want=900, minimum=900) == first
    await check_invariants(db, wallet)
    settled = await ledger.settle(wallet, "h1", 100)
    assert await ledger.settle(wallet, "h1", 250) == settled
    assert await ledger.void(wallet, "h1") == settled
    assert not await ledger.expire(wallet, "h1")
    assert await ledger.reserve(wallet, "h1", want=300, minimum=100) == settled
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["seq"]) == (900, 0, 3)

    await ledger.reserve(wallet, "h2", want=200, minimum=1)
    voided = await ledger.void(wallet, "h2")
    assert (voided.state, voided.charged) == ("voided", 0)
    assert await ledger.void(wallet, "h2") == voided
    assert await ledger.settle(wallet, "h2", 50) == voided
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["seq"]) == (900, 0, 5)


async def test_insufficient_credits_writes_nothing(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    with pytest.raises(InsufficientCredits) as empty:
        await ledger.reserve(wallet, "h0", want=10, minimum=10)
    assert not (await db.collection("wallets").document(wallet).get()).exists

    await ledger.grant(wallet, 100, "g")
    before = await check_invariants(db, wallet)
    with pytest.raises(InsufficientCredits) as short:
        await ledger.reserve(wallet, "h1", want=500, minimum=101)
    assert await check_invariants(db, wallet) == before
    assert await ledger.hold(wallet, "h1") is None
    assert [e.kind for e in (await ledger.entries(wallet)).data] == ["grant"]
    err = short.value
    assert (err.status, err.code, err.needed, err.available) == (402, "insufficient_credits", 101, 100)
    assert "101" in err.message
    assert "100" in err.message
    assert "top up" in err.message.lower()
    assert empty.value.available == 0


async def test_reserve_clamps_to_available(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 250, "g")
    hold = await ledger.reserve(wallet, "h1", want=1_000, minimum=100)
    assert hold.amount == 250
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"]) == (0, 250)
    with pytest.raises(InsufficientCredits):
        await ledger.reserve(wallet, "h2", want=10, minimum=1)
    await check_invariants(db, wallet)


@pytest.mark.parametrize(("want", "minimum"), [(10, 0), (10, 11), (0, 0), (-1, -5)])
async def test_reserve_rejects_bad_bounds(ledger: Ledger, want: int, minimum: int) -> None:
    with pytest.raises(BadRequest):
        await ledger.reserve(new_wallet(), "h", want=want, minimum=minimum)


async def test_settle_charges_at_most_the_hold(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 1_000, "g")
    await ledger.reserve(wallet, "h1", want=300, minimum=300)
    hold = await ledger.settle(wallet, "h1", 10_000)
    assert (hold.charged, hold.state) == (300, "settled")
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (700, 0, 300)

    await ledger.reserve(wallet, "h2", want=100, minimum=1)
    free = await ledger.settle(wallet, "h2", 0)
    assert (free.charged, free.state) == (0, "settled")
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (700, 0, 300)
    with pytest.raises(BadRequest):
        await ledger.settle(wallet, "h2", -1)


async def test_unknown_hold(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 10, "g")
    with pytest.raises(HoldNotFound) as err:
        await ledger.settle(wallet, "missing", 5)
    assert (err.value.status, err.value.code) == (404, "hold_not_found")
    with pytest.raises(HoldNotFound):
        await ledger.void(wallet, "missing")
    assert not await ledger.expire(wallet, "missing")
    w = await check_invariants(db, wallet)
    assert w["seq"] == 1


async def test_expire_only_when_due_and_late_settle_charges_what_was_used(
    db: firestore.AsyncClient, ledger: Ledger
) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 1_000, "g")
    live = await ledger.reserve(wallet, "live", want=100, minimum=1)
    assert not await ledger.expire(wallet, "live")
    assert (await ledger.hold(wallet, "live")) == live

    await ledger.reserve(wallet, "due", want=300, minimum=1, ttl_s=-1)
    assert await ledger.expire(wallet, "due")
    assert not await ledger.expire(wallet, "due")
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"]) == (900, 100)

    late = await ledger.settle(wallet, "due", 200)  # shared/ledger/ledger.py `_charge_late`
    assert (late.state, late.charged) == ("expired", 200)
    assert (await ledger.void(wallet, "due")).state == "expired"
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"], w["clawed_back"]) == (700, 100, 0, 200)


async def test_pending_hold_past_expiry_can_still_settle(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    await ledger.grant(wallet, 1_000, "g")
    await ledger.reserve(wallet, "slow", want=400, minimum=1, ttl_s=-1)
    hold = await ledger.settle(wallet, "slow", 150)
    assert (hold.state, hold.charged) == ("settled", 150)
    assert not await ledger.expire(wallet, "slow")
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["settled"]) == (850, 0, 150)


async def test_entries_newest_first_with_cursor(db: firestore.AsyncClient, ledger: Ledger) -> None:
    wallet = new_wallet()
    for i in range(5):
        await ledger.grant(wallet, 10 + i, f"g{i}")
    await ledger.reserve(wallet, "h", want=20, minimum=1)
    await ledger.settle(wallet, "h", 5)
    await check_invariants(db, wallet)

    first = await ledger.entries(wallet, limit=3)
    assert [e.seq for e in first.data] == [7, 6, 5]
    assert [(e.kind, e.amount, e.ref) for e in first.data] == [
        ("settle", 15, "h"),
        ("reserve", -20, "h"),
        ("grant", 14, "g4"),
    ]
    assert first.next_cursor == "5"
    second = await ledger.entries(wallet, limit=3, cursor=first.next_cursor)
    assert [e.seq for e in second.data] == [4, 3, 2]
    third = await ledger.entries(wallet, limit=3, cursor=second.next_cursor)
    assert [e.seq for e in third.data] == [1]
    assert third.next_cursor is None
    exact = await ledger.entries(wallet, limit=7)
    assert len(exact.data) == 7
    assert exact.next_cursor is None
    assert all(e.id == stable_id(e.kind, e.ref or "") for e in exact.data)

    for bad in ("abc", "-1", "1.5", "", " 3", "9" * 40):
        with pytest.raises(BadRequest) as err:
            await ledger.entries(wallet, cursor=bad)
        assert err.value.code == "invalid_cursor"
    for limit in (0, 201):
        with pytest.raises(BadRequest):
            await ledger.entries(wallet, limit=limit)
