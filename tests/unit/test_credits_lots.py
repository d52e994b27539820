"""Expiring credits in the wallet state, without Firestore: which credits a spend, a clawback and a debt
payment take, what a finished hold gives back, and how lots expire."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.ledger.lots import Lot, lot_id
from shared.ledger.records import WalletState

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def wallet(free: int, **lots: tuple[int, int]) -> WalletState:
    """`free` credits that never expire, plus lots name=(left, days until expiry)."""
    state = WalletState(available=free + sum(left for left, _ in lots.values()))
    state.granted = state.available
    state.lots = [Lot(name, left, T0 + days * DAY) for name, (left, days) in lots.items()]
    return state


def left(state: WalletState) -> dict[str, int]:
    return {lot.id: lot.left for lot in state.lots}


def test_spending_takes_the_soonest_lot_first_then_the_rest() -> None:
    state = wallet(100, late=(50, 20), soon=(30, 10))
    assert state.take(60, lots_first=True) == {"soon": 30, "late": 30}
    assert state.take(40, lots_first=True) == {"late": 20}
    assert (state.available, left(state)) == (80, {"late": 0, "soon": 0})
    with pytest.raises(ValueError, match="cannot take"):
        state.take(81, lots_first=True)


def test_clawback_takes_what_never_expires_first() -> None:
    state = wallet(100, late=(50, 20), soon=(30, 10))
    assert state.take(120, lots_first=False) == {"soon": 20}
    assert (state.available, left(state)) == (60, {"late": 50, "soon": 10})
    assert state.take_lot("late", 80) == 50
    assert state.take_lot("nowhere", 5) == 0
    assert state.available == 10


def test_debt_is_paid_from_the_soonest_lot() -> None:
    state = wallet(10, soon=(30, 1))
    state.debt = 25
    paid = state.pay_debt("ref", T0)
    assert paid is not None and paid["amount"] == -25
    assert (state.available, state.debt, state.clawed_back, left(state)) == (15, 0, 25, {"soon": 5})


def test_a_hold_gives_back_beyond_its_charge_to_the_latest_lots() -> None:
    state = wallet(100, late=(50, 20), soon=(30, 10))
    drawn = state.take(70, lots_first=True)  # soon 30, late 40
    state.reserved = 70
    assert state.release(drawn, 70, charged=35) == 0
    assert (state.available, left(state)) == (145, {"late": 45, "soon": 0})


def test_what_goes_back_to_an_expired_lot_expires() -> None:
    state = wallet(0, late=(50, 20), soon=(30, 10))
    drawn = state.take(60, lots_first=True)  # soon 30, late 30
    state.reserved = 60
    written = state.expire_lots(T0 + 10 * DAY)
    assert written == []  # soon was empty: it goes without an entry
    # The charge counts against the gone lot first: 20 of its 30 come back, and expire.
    gone = state.release(drawn, 60, charged=10)
    assert gone == 20
    expired = state.expire_returned("h", gone, T0 + 10 * DAY)
    assert [(kind, ref, e["amount"]) for kind, ref, e in expired] == [("lot_expired", "hold:h", -20)]
    assert (state.available, state.expired, left(state)) == (50, 20, {"late": 50})
    assert state.expire_returned("h2", 0, T0) == []


def test_lots_expire_at_their_time_and_again_if_given_back() -> None:
    state = wallet(5, a=(40, 1), b=(7, 2))
    assert state.spendable(T0 + DAY) == 12
    assert state.expire_lots(T0 + DAY - dt.timedelta(seconds=1)) == []
    first = state.expire_lots(T0 + DAY)
    assert [(kind, e["amount"], e["lot"]) for kind, _, e in first] == [("lot_expired", -40, "a")]
    assert state.to_doc(T0)["next_lot_expiry"] == T0 + 2 * DAY
    state.available += 40  # a won dispute gives the credits back into the lot, already expired
    state.add_lot("a", 40, T0 + DAY)
    again = state.expire_lots(T0 + DAY)
    assert first[0][1] != again[0][1]  # its own entry, not the first one overwritten
    assert (state.available, state.expired) == (12, 80)


def test_lots_round_trip_through_the_document() -> None:
    state = wallet(5, b=(7, 2), a=(3, 1))
    state.add_lot("b", 1, T0)
    state.add_lot("c", 0, T0)  # nothing to mark
    doc = state.to_doc(T0)
    assert doc["lots"] == [
        {"id": "a", "left": 3, "expires_at": T0 + DAY},
        {"id": "b", "left": 8, "expires_at": T0 + 2 * DAY},
    ]
    assert doc["next_lot_expiry"] == T0 + DAY
    assert WalletState.from_doc(doc).lots == sorted(state.lots, key=lambda lot: lot.id)
    assert "lots" not in WalletState().to_doc(T0)
    assert lot_id("grant", "x") == lot_id("grant", "x") != lot_id("purchase", "x")
