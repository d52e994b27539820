"""What the ledger returns. Amounts are integer credits (1 credit = 1 micro-USD)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

HoldState = Literal["pending", "settled", "voided", "expired"]


class Balance(BaseModel):
    available: int
    reserved: int


class Hold(BaseModel):
    id: str
    wallet_id: str
    amount: int
    state: HoldState
    charged: int
    expires_at: datetime


class Entry(BaseModel):
    """One immutable ledger line.

    `amount` is the signed change the entry made to the wallet's `available` balance: a grant adds
    its amount, a reserve subtracts the amount held, and a settle, void or expire adds back what it
    released (for a settle, the hold minus the charge); a clawback or debt payment subtracts what it
    took, and a `lot_expired` entry what expired. So the sum of every entry's amount is the wallet's
    available balance; charges themselves are in the settled hold's `charged`.
    """

    id: str
    kind: str
    amount: int
    ref: str | None
    seq: int
    at: datetime


class ExpiringCredits(BaseModel):
    """Credits that expire (a plan's allotment): `amount` of them at `expires_at`, unless spent first."""

    amount: int
    expires_at: datetime


class EntryPage(BaseModel):
    data: list[Entry]
    next_cursor: str | None
