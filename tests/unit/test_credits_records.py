"""How wallet state, holds and entries map to Firestore documents."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.ledger.errors import HoldNotFound, InsufficientCredits, LedgerBusy
from shared.ledger.records import WalletState, entry_from_doc, hold_from_doc

AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_missing_wallet_is_all_zeros() -> None:
    assert WalletState.from_doc(None) == WalletState()
    assert WalletState.from_doc({"available": 5, "updated_at": AT}) == WalletState(available=5)


def test_entry_advances_seq_and_records_balances_after() -> None:
    wallet = WalletState(available=70, reserved=30, granted=100, seq=4)
    entry = wallet.entry("reserve", -30, "h1", AT)
    assert wallet.seq == 5
    assert entry == {
        "kind": "reserve",
        "amount": -30,
        "ref": "h1",
        "seq": 5,
        "at": AT,
        "available_after": 70,
        "reserved_after": 30,
    }
    assert wallet.entry("settle", 10, "h1", AT, charged=20)["charged"] == 20
    doc = wallet.to_doc(AT)
    assert doc == {
        "available": 70,
        "reserved": 30,
        "granted": 100,
        "settled": 0,
        "clawed_back": 0,
        "expired": 0,
        "debt": 0,
        "seq": 6,
        "updated_at": AT,
    }
    assert WalletState.from_doc(doc) == wallet


def test_documents_to_models() -> None:
    hold = hold_from_doc(
        "h1",
        {
            "wallet_id": "w",
            "amount": 9,
            "state": "pending",
            "charged": 0,
            "expires_at": AT,
            "created_at": AT,
            "ref": None,
        },
    )
    assert (hold.id, hold.wallet_id, hold.amount, hold.state, hold.expires_at) == (
        "h1",
        "w",
        9,
        "pending",
        AT,
    )
    entry = entry_from_doc(
        "e1",
        {
            "kind": "grant",
            "amount": 5,
            "ref": "evt",
            "seq": 1,
            "at": AT,
            "available_after": 5,
            "reserved_after": 0,
        },
    )
    assert entry.model_dump() == {"id": "e1", "kind": "grant", "amount": 5, "ref": "evt", "seq": 1, "at": AT}


def test_errors_carry_status_code_and_advice() -> None:
    short = InsufficientCredits(needed=120, available=80)
    assert (short.status, short.code, short.type) == (402, "insufficient_credits", "insufficient_credits")
    assert "120" in short.message
    assert "80" in short.message
    assert "top up" in short.message.lower()
    missing = HoldNotFound("h9")
    assert (missing.status, missing.code) == (404, "hold_not_found")
    busy = LedgerBusy()
    assert (busy.status, busy.code, busy.headers) == (503, "ledger_busy", {"Retry-After": "1"})


@pytest.mark.parametrize("state", ["pending", "settled", "voided", "expired"])
def test_every_hold_state_is_valid(state: str) -> None:
    doc = {"wallet_id": "w", "amount": 1, "state": state, "charged": 0, "expires_at": AT}
    assert hold_from_doc("h", doc).state == state
