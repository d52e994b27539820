"""A controlled clock for the expiring-credit tests, and a look at a wallet's lots.

The ledger reads the time through `shared.clock.now`; the `clock` fixture (tests/integration/conftest.py)
replaces it for one test with a `Clock` that only moves when the test says so (whole seconds, so
Firestore's microseconds change nothing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.cloud import firestore

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.at += delta
        return self.at


async def wallet_doc(db: firestore.AsyncClient, wallet_id: str) -> dict[str, Any]:
    return (await db.collection("wallets").document(wallet_id).get()).to_dict() or {}


async def lots_of(db: firestore.AsyncClient, wallet_id: str) -> dict[str, tuple[int, dt.datetime]]:
    """The wallet's lots as {lot id: (left, expires_at)}."""
    doc = await wallet_doc(db, wallet_id)
    return {lot["id"]: (lot["left"], lot["expires_at"]) for lot in doc.get("lots", [])}


async def hold_drawn(db: firestore.AsyncClient, wallet_id: str, hold_id: str) -> dict[str, int]:
    ref = db.collection("wallets").document(wallet_id).collection("holds").document(hold_id)
    drawn: dict[str, int] = ((await ref.get()).to_dict() or {}).get("drawn") or {}
    return drawn


async def entry_kinds(db: firestore.AsyncClient, wallet_id: str) -> list[tuple[str, int]]:
    """(kind, amount) of every entry, in seq order."""
    ref = db.collection("wallets").document(wallet_id).collection("entries")
    entries = sorted([s.to_dict() async for s in ref.stream()], key=lambda e: e["seq"])
    return [(e["kind"], e["amount"]) for e in entries]
