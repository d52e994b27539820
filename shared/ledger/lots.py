"""Expiring credits: lots inside a wallet's `available`.

A grant with an expiry (a plan's monthly allotment) puts its credits in a lot `{id, left, expires_at}`
on the wallet document; credits in no lot never expire, so sum(lot.left) <= available. Spending takes
the soonest-expiring lots first. A lot stays on the wallet, even empty, until it expires: then every
transaction on the wallet, or the lot sweep, removes it from the wallet document and its credits leave
`available` (a `lot_expired` entry, its id derived from the lot id and the wallet's seq). So a lot
absent from a wallet has expired, and a hold that drew from it gives that part back as expired, never
as spendable credits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from shared.errors import BadRequest
from shared.ids import stable_id

_GONE = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass
class Lot:
    id: str
    left: int
    expires_at: dt.datetime

    @classmethod
    def from_doc(cls, data: dict[str, Any]) -> Lot:
        return cls(str(data["id"]), int(data["left"]), data["expires_at"])

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "left": self.left, "expires_at": self.expires_at}


def lot_id(kind: str, external_id: str) -> str:
    """The lot a grant creates: one per (kind, external id), the same on every shard of a wallet."""
    return stable_id("lot", kind, external_id)


def check_expiry(expires_at: dt.datetime | None) -> None:
    if expires_at is not None and expires_at.utcoffset() is None:
        raise BadRequest("expires_at must be an aware datetime (UTC).")


def lot_order(lot: Lot) -> tuple[dt.datetime, str]:
    return lot.expires_at, lot.id


def draw(lots: list[Lot], amount: int) -> dict[str, int]:
    """Take `amount` (<= their sum) from `lots`, soonest-expiring first; what came from each, by id."""
    drawn: dict[str, int] = {}
    for lot in sorted(lots, key=lot_order):
        n = min(lot.left, amount)
        if n > 0:
            lot.left -= n
            amount -= n
            drawn[lot.id] = n
    if amount > 0:
        raise ValueError(f"the lots are {amount} credits short")
    return drawn


def expire_due(lots: list[Lot], at: dt.datetime) -> tuple[list[Lot], list[Lot]]:
    """(the lots still live at `at`, the due ones that still hold credits); empty due lots vanish."""
    live = [lot for lot in lots if lot.expires_at > at]
    due = sorted((lot for lot in lots if lot.expires_at <= at and lot.left > 0), key=lot_order)
    return live, due


def return_to_lots(lots: list[Lot], drawn: dict[str, int], charged: int) -> int:
    """Give back to `lots` what a hold drew from them (`drawn`) beyond its charge, the charge counted
    against the soonest-expiring first (lots already gone first of all). Return what belonged to
    gone lots: it has expired."""
    present = {lot.id: lot for lot in lots}

    def order(lot_key: str) -> tuple[dt.datetime, str]:
        lot = present.get(lot_key)
        return (lot.expires_at if lot else _GONE), lot_key

    gone = 0
    for key in sorted(drawn, key=order):
        charge = min(drawn[key], charged)
        charged -= charge
        back = drawn[key] - charge
        if key in present:
            present[key].left += back
        else:
            gone += back
    return gone
