"""How wallets, holds and entries are stored in Firestore, and how they are read back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from shared.ledger.lots import Lot, draw, expire_due, lot_order, return_to_lots
from shared.ledger.schemas import Entry, Hold

WALLETS = "wallets"
HOLDS = "holds"
ENTRIES = "entries"

# Entry kinds written by the hold lifecycle; by clawbacks (credits taken back, the rest owed as debt)
# and debt payments; by expiring credits; any other kind is a grant (credits coming in).
HOLD_KINDS = frozenset({"reserve", "settle", "void", "expire"})
DEBIT_KINDS = frozenset({"clawback", "debt_paid", "late_charge"})
LOT_EXPIRED = "lot_expired"
EXPIRY_KINDS = frozenset({LOT_EXPIRED})
TERMINAL = frozenset({"settled", "voided", "expired"})
COUNTERS = ("available", "reserved", "granted", "settled", "clawed_back", "expired", "debt", "seq")

# A wallet's own entries, to be written by the caller: (kind, ref, entry document).
Written = list[tuple[str, str, dict[str, Any]]]


@dataclass
class WalletState:
    """The wallet document. A wallet that does not exist yet is all zeros.

    Invariants: available + reserved == granted - settled - clawed_back - expired; no counter is
    negative; sum(lot.left) <= available.

    `debt` is what a clawback could not take back (it never makes `available` negative). Credits that
    come in while there is debt pay it first (`pay_debt`), so debt > 0 means available == 0.

    `lots` are the expiring credits inside `available` (shared/ledger/lots.py); the rest never
    expires. The document also carries `next_lot_expiry`, the earliest lot's expiry (absent without
    lots), which the lot sweep queries.
    """

    available: int = 0
    reserved: int = 0
    granted: int = 0
    settled: int = 0
    clawed_back: int = 0
    expired: int = 0
    debt: int = 0
    seq: int = 0
    lots: list[Lot] = field(default_factory=list)

    @classmethod
    def from_doc(cls, data: dict[str, Any] | None) -> WalletState:
        data = data or {}
        lots = [Lot.from_doc(lot) for lot in data.get("lots", [])]
        return cls(**{name: int(data.get(name, 0)) for name in COUNTERS}, lots=lots)

    def to_doc(self, at: dt.datetime) -> dict[str, Any]:
        doc: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS} | {"updated_at": at}
        if self.lots:
            lots = sorted(self.lots, key=lot_order)
            doc["lots"] = [lot.to_doc() for lot in lots]
            doc["next_lot_expiry"] = lots[0].expires_at
        return doc

    def entry(self, kind: str, amount: int, ref: str, at: dt.datetime, **extra: Any) -> dict[str, Any]:
        """Advance seq and describe the change just applied to this state as an entry document."""
        self.seq += 1
        return {
            "kind": kind,
            "amount": amount,
            "ref": ref,
            "seq": self.seq,
            "at": at,
            "available_after": self.available,
            "reserved_after": self.reserved,
            **extra,
        }

    def spendable(self, at: dt.datetime) -> int:
        """`available` without the lots already expired at `at` that no transaction has removed yet."""
        return self.available - sum(lot.left for lot in self.lots if lot.expires_at <= at)

    def take(self, amount: int, lots_first: bool) -> dict[str, int]:
        """Take `amount` (<= available) out of `available`: from the lots soonest-expiring first, then
        the rest (`lots_first`), or the other way round. What was taken from each lot, by lot id."""
        if not 0 <= amount <= self.available:
            raise ValueError(f"cannot take {amount} of {self.available}")
        in_lots = sum(lot.left for lot in self.lots)
        from_lots = min(amount, in_lots) if lots_first else max(amount - (self.available - in_lots), 0)
        drawn = draw(self.lots, from_lots)
        self.available -= amount
        return drawn

    def take_lot(self, lot_id: str, amount: int) -> int:
        """Take up to `amount` out of `available` from lot `lot_id` only; how much it had to give."""
        for lot in self.lots:
            if lot.id == lot_id:
                n = min(lot.left, amount)
                lot.left -= n
                self.available -= n
                return n
        return 0

    def add_lot(self, lot_id: str, amount: int, expires_at: dt.datetime) -> None:
        """Mark `amount` credits already in `available` as expiring at `expires_at` (lot `lot_id`)."""
        if amount <= 0:
            return
        for lot in self.lots:
            if lot.id == lot_id:
                lot.left += amount
                return
        self.lots.append(Lot(lot_id, amount, expires_at))

    def expire_lots(self, at: dt.datetime) -> Written:
        """Remove every lot due at `at`; its credits leave `available` (one `lot_expired` entry per lot
        with any). Each lot leaves the wallet document once, in one transaction: that, not the entry id,
        is what makes expiring idempotent."""
        self.lots, due = expire_due(self.lots, at)
        written: Written = []
        for lot in due:
            self.available -= lot.left
            self.expired += lot.left
            # The ref holds the wallet's seq too: a lot given back after it expired (a won dispute)
            # expires again under an entry of its own.
            ref = f"{lot.id}:{self.seq + 1}"
            doc = self.entry(LOT_EXPIRED, -lot.left, ref, at, lot=lot.id, expires_at=lot.expires_at)
            written.append((LOT_EXPIRED, ref, doc))
        return written

    def release(self, drawn: dict[str, int], amount: int, charged: int) -> int:
        """A hold of `amount` that drew `drawn` from lots ends with `charged`: give the rest back.

        The charge counts against the soonest-expiring lots the hold drew from, then against the rest.
        What goes back to a lot no longer on the wallet (it expired meanwhile) is expired right away;
        return that part (the caller writes `expire_returned`'s entry after its own)."""
        self.available += amount - charged
        return return_to_lots(self.lots, drawn, charged)

    def expire_returned(self, hold_id: str, gone: int, at: dt.datetime) -> Written:
        if gone <= 0:
            return []
        self.available -= gone
        self.expired += gone
        ref = f"hold:{hold_id}"
        return [(LOT_EXPIRED, ref, self.entry(LOT_EXPIRED, -gone, ref, at))]

    def pay_debt(self, ref: str, at: dt.datetime) -> dict[str, Any] | None:
        """Pay the debt from `available` (soonest-expiring credits first); the `debt_paid` entry to
        write, or None when nothing was owed."""
        paid = min(self.available, self.debt)
        if paid <= 0:
            return None
        self.take(paid, lots_first=True)
        self.debt -= paid
        self.clawed_back += paid
        return self.entry("debt_paid", -paid, ref, at, debt_after=self.debt)


def hold_from_doc(hold_id: str, data: dict[str, Any]) -> Hold:
    return Hold(
        id=hold_id,
        wallet_id=data["wallet_id"],
        amount=data["amount"],
        state=data["state"],
        # An expired hold settled late also reports what that charge took (`late_charged`,
        # ledger._charge_late): on top of what its expiry charged (a lease's recorded progress, else 0).
        charged=data.get("charged", 0) + data.get("late_charged", 0),
        expires_at=data["expires_at"],
    )


def entry_from_doc(entry_id: str, data: dict[str, Any]) -> Entry:
    return Entry(
        id=entry_id,
        kind=data["kind"],
        amount=data["amount"],
        ref=data.get("ref"),
        seq=data["seq"],
        at=data["at"],
    )
