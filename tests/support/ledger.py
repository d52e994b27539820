"""The ledger as the tests see it: settings for a Ledger built by hand, closing a Firestore client, and
the full set of ledger invariants checked against what is stored."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from typing import Any

from google.cloud import firestore

from shared.adapters.firestore import close_client as close_firestore
from shared.ids import stable_id
from shared.ledger.records import HOLD_KINDS, LOT_EXPIRED
from shared.settings import Settings

TERMINAL_KIND = {"settled": "settle", "voided": "void", "expired": "expire"}


def ledger_settings(**overrides: Any) -> Settings:
    return Settings(GOOGLE_CLOUD_PROJECT=os.environ["GOOGLE_CLOUD_PROJECT"], **overrides)


async def close_client(client: firestore.AsyncClient) -> None:
    await close_firestore(client)
    # Let gRPC deliver the channel's last events while this test's event loop still runs.
    await asyncio.sleep(0.05)


def new_wallet() -> str:
    return "w-" + uuid.uuid4().hex


async def check_invariants(db: firestore.AsyncClient, wallet_id: str) -> dict[str, int]:
    """Read the wallet, ALL its holds and entries, assert every ledger invariant; return the wallet."""
    wallet_ref = db.collection("wallets").document(wallet_id)
    wallet = (await wallet_ref.get()).to_dict() or {}
    w = {
        k: int(wallet.get(k, 0))
        for k in ("available", "reserved", "granted", "settled", "clawed_back", "expired", "debt", "seq")
    }
    lots = wallet.get("lots", [])
    holds = {s.id: s.to_dict() async for s in wallet_ref.collection("holds").stream()}
    entries = {s.id: s.to_dict() async for s in wallet_ref.collection("entries").stream()}
    where = f"wallet {wallet_id}: {w}"

    assert w["available"] >= 0, where
    assert w["reserved"] >= 0, where
    assert w["clawed_back"] >= 0, where
    assert w["debt"] >= 0, where
    assert w["debt"] == 0 or w["available"] == 0, where  # credits coming in pay the debt first
    assert w["expired"] >= 0, where
    assert w["available"] + w["reserved"] == (
        w["granted"] - w["settled"] - w["clawed_back"] - w["expired"]
    ), where
    # Expiring credits are part of `available`; the document points the lot sweep at the earliest.
    assert all(lot["left"] >= 0 for lot in lots), lots
    assert sum(lot["left"] for lot in lots) <= w["available"], (where, lots)
    assert len({lot["id"] for lot in lots}) == len(lots), lots
    assert wallet.get("next_lot_expiry") == min((lot["expires_at"] for lot in lots), default=None), where
    assert w["reserved"] == sum(h["amount"] for h in holds.values() if h["state"] == "pending"), where
    # An expired or voided lease's hold charges its recorded progress (shared/ledger/progress.py).
    assert w["settled"] == sum(h["charged"] for h in holds.values() if h["state"] != "pending"), where

    # One entry per (kind, external id), its id derived from them; seq numbers 1..wallet.seq.
    keys = Counter((e["kind"], e["ref"]) for e in entries.values())
    assert all(n == 1 for n in keys.values()), keys
    for entry_id, e in entries.items():
        assert entry_id == stable_id(e["kind"], e["ref"]), e
    ordered = sorted(entries.values(), key=lambda e: e["seq"])
    assert [e["seq"] for e in ordered] == list(range(1, w["seq"] + 1)), where

    # Entry amounts are changes to `available`; replaying them rebuilds both balances.
    available = reserved = granted = clawed_back = debt = expired = 0
    for e in ordered:
        available += e["amount"]
        if e["kind"] in ("clawback", "late_charge"):  # took -amount, and owes what it could not take
            assert 0 <= -e["amount"] <= e["claimed"], e
            clawed_back -= e["amount"]
            debt += e["claimed"] + e["amount"]
            assert e["debt_after"] == debt, e
        elif e["kind"] == "debt_paid":
            assert e["amount"] < 0, e
            clawed_back -= e["amount"]
            debt += e["amount"]
            assert e["debt_after"] == debt >= 0, e
        elif e["kind"] == LOT_EXPIRED:
            assert e["amount"] < 0, e
            expired -= e["amount"]
        elif e["kind"] == "reserve":
            reserved -= e["amount"]
        elif e["kind"] in HOLD_KINDS:
            reserved -= holds[e["ref"]]["amount"]
            assert e["amount"] + e["charged"] == holds[e["ref"]]["amount"], e
        else:
            granted += e["amount"]
            assert e["amount"] > 0, e
        assert (e["available_after"], e["reserved_after"]) == (available, reserved), e
    assert (available, reserved, granted) == (w["available"], w["reserved"], w["granted"]), where
    assert (clawed_back, debt, expired) == (w["clawed_back"], w["debt"], w["expired"]), where

    # Every hold: one reserve entry, and exactly one terminal entry matching its state once finished.
    for hold_id, h in holds.items():
        assert h["wallet_id"] == wallet_id
        assert h["amount"] > 0, h
        assert h["state"] in ("pending", "settled", "voided", "expired"), h
        assert 0 <= h["charged"] <= h["amount"], h
        drawn = h.get("drawn") or {}
        assert all(n > 0 for n in drawn.values()) and sum(drawn.values()) <= h["amount"], h
        assert 0 <= h.get("used", 0) <= h["amount"], h
        if h["state"] == "pending":
            assert h["charged"] == 0, h
        elif h["state"] == "settled":
            assert h["charged"] >= h.get("used", 0), h
        else:  # expired or voided: what its calls used as last recorded (0 for any hold but a lease's)
            assert h["charged"] == h.get("used", 0), h
        if "late_charged" in h:  # settled after it expired: one late_charge entry for what was used beyond
            assert h["state"] == "expired" and 0 < h["late_charged"] <= h["amount"] - h["charged"], h
            late = entries[stable_id("late_charge", hold_id)]
            assert late["claimed"] == h["late_charged"], (h, late)
        else:
            assert keys[("late_charge", hold_id)] == 0, hold_id
        assert keys[("reserve", hold_id)] == 1, hold_id
        finished = [k for k in ("settle", "void", "expire") if keys[(k, hold_id)]]
        assert finished == ([] if h["state"] == "pending" else [TERMINAL_KIND[h["state"]]]), (hold_id, h)
    return w
