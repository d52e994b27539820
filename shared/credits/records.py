"""How wallets, holds and entries are stored in Firestore, and how they are read back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from shared.credits.schemas import Entry, Hold

WALLETS = "wallets"
HOLDS = "holds"
ENTRIES = "entries"

# Entry kinds written by the hold lifecycle; by clawbacks (credits taken back, the rest owed as debt)
# and debt payments; any other kind is a grant (credits coming in).
HOLD_KINDS = frozenset({"reserve", "settle", "void", "expire"})
DEBIT_KINDS = frozenset({"clawback", "debt_paid"})
TERMINAL = frozenset({"settled", "voided", "expired"})


@dataclass
class WalletState:
    """The wallet document. A wallet that does not exist yet is all zeros.

    `debt` is what a clawback could not take back (it never makes `available` negative). Credits that
    come in while there is debt pay it first (`pay_debt`), so debt > 0 means available == 0.
    """

    available: int = 0
    reserved: int = 0
    granted: int = 0
    settled: int = 0
    clawed_back: int = 0
    debt: int = 0
    seq: int = 0

    @classmethod
    def from_doc(cls, data: dict[str, Any] | None) -> WalletState:
        data = data or {}
        return cls(**{name: int(data.get(name, 0)) for name in cls.__dataclass_fields__})

    def to_doc(self, at: dt.datetime) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__} | {"updated_at": at}

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

    def pay_debt(self, ref: str, at: dt.datetime) -> dict[str, Any] | None:
        """Pay the debt from `available`; the `debt_paid` entry to write, or None when nothing was owed."""
        paid = min(self.available, self.debt)
        if paid <= 0:
            return None
        self.available -= paid
        self.debt -= paid
        self.clawed_back += paid
        return self.entry("debt_paid", -paid, ref, at, debt_after=self.debt)


def hold_from_doc(hold_id: str, data: dict[str, Any]) -> Hold:
    return Hold(
        id=hold_id,
        wallet_id=data["wallet_id"],
        amount=data["amount"],
        state=data["state"],
        charged=data.get("charged", 0),
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
