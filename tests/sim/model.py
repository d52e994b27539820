"""The ledger as plain Python: what one wallet should hold after each operation.

The random walks and the simulator both drive the real ledger and compare what it stored with this
model after every step. Each operation here says what the ledger should answer and changes the model
as the ledger should change the wallet; it never looks at what the ledger did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from shared.ledger.lots import lot_id

GONE = dt.datetime.min.replace(tzinfo=dt.UTC)
Refusal = Literal["debt", "insufficient"]


@dataclass
class ModelHold:
    amount: int
    expires_at: dt.datetime
    drawn: dict[str, int]
    state: str = "pending"
    charged: int = 0
    late: int | None = None  # what a settle after the hold expired charged

    @property
    def shown_charge(self) -> int:
        """`charged` as the ledger returns the hold: a late charge shows on the expired hold."""
        return self.charged if self.late is None else self.late


@dataclass
class ModelWallet:
    """The wallet as the ledger should store it. Due lots leave it only when a transaction commits."""

    available: int = 0
    reserved: int = 0
    expired: int = 0
    debt: int = 0
    granted: int = 0
    settled: int = 0
    clawed_back: int = 0
    lots: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)
    grants: set[str] = field(default_factory=set)
    holds: dict[str, ModelHold] = field(default_factory=dict)

    # -- operations: what the ledger should answer, and the wallet after ------------------------------

    def grant(self, ext: str, amount: int, at: dt.datetime, ends: dt.datetime | None = None) -> bool:
        """Ledger.grant: False for a replayed external id."""
        if ext in self.grants:
            return False
        self.grants.add(ext)
        self.expire(at)
        self.credit("grant", ext, amount, ends)
        if ends is not None:
            self.expire(at)
        return True

    def credit(self, kind: str, ref: str, amount: int, ends: dt.datetime | None) -> None:
        """Credits come in: debt is paid first, what is left of an expiring grant forms its lot."""
        self.available += amount
        self.granted += amount
        paid = self.pay_debt()
        if ends is not None and amount > paid:
            key = lot_id(kind, ref)
            left = self.lots[key][0] if key in self.lots else 0
            self.lots[key] = (left + amount - paid, ends)

    def reserve(
        self, hold_id: str, want: int, minimum: int, at: dt.datetime, ttl: dt.timedelta
    ) -> ModelHold | Refusal:
        """Ledger.reserve: the hold (an existing one unchanged), or why it is refused."""
        existing = self.holds.get(hold_id)
        if existing is not None:
            return existing
        if self.debt > 0:
            return "debt"
        if self.spendable(at) < minimum:
            return "insufficient"
        self.expire(at)
        amount = min(want, self.available)
        self.available -= amount
        self.reserved += amount
        hold = self.holds[hold_id] = ModelHold(amount, at + ttl, self.draw(amount))
        return hold

    def settle(self, hold_id: str, amount: int, at: dt.datetime) -> ModelHold | None:
        """Ledger.settle: None when the hold is unknown (HoldNotFound). A settle after the hold expired
        charges what was used once, from what is available, the rest as debt."""
        held = self.holds.get(hold_id)
        if held is None:
            return None
        if held.state == "expired" and amount > 0 and held.late is None:
            held.late = min(amount, held.amount)
            self.expire(at)
            taken = min(self.available, held.late)
            self.take(taken)
            self.clawed_back += taken
            self.debt += held.late - taken
        self.finish(hold_id, "settled", min(amount, held.amount), at)
        return held

    def void(self, hold_id: str, at: dt.datetime) -> ModelHold | None:
        if hold_id not in self.holds:
            return None
        self.finish(hold_id, "voided", 0, at)
        return self.holds[hold_id]

    def expire_hold(self, hold_id: str, at: dt.datetime) -> bool:
        """Ledger.expire: True when this call expired a pending hold past its expiry."""
        held = self.holds.get(hold_id)
        if held is None or held.state != "pending" or held.expires_at > at:
            return False
        self.finish(hold_id, "expired", 0, at)
        return True

    def extend(self, hold_id: str, until: dt.datetime) -> ModelHold | None:
        """Ledger.extend: a pending hold expires no sooner than `until`."""
        held = self.holds.get(hold_id)
        if held is not None and held.state == "pending" and held.expires_at < until:
            held.expires_at = until
        return held

    def due_holds(self, at: dt.datetime) -> list[str]:
        return sorted(
            h for h, held in self.holds.items() if held.state == "pending" and held.expires_at <= at
        )

    # -- the arithmetic ---------------------------------------------------------------------------------

    def due(self, at: dt.datetime) -> list[str]:
        return [k for k, (_, ends) in self.lots.items() if ends <= at]

    def spendable(self, at: dt.datetime) -> int:
        return self.available - sum(self.lots[k][0] for k in self.due(at))

    def expire(self, at: dt.datetime) -> int:
        """Remove the due lots; how many still held credits."""
        with_credits = 0
        for k in self.due(at):
            left, _ = self.lots.pop(k)
            self.available -= left
            self.expired += left
            with_credits += left > 0
        return with_credits

    def take(self, amount: int) -> None:
        """Out of `available`, soonest-expiring lots first."""
        self.draw(amount)
        self.available -= amount

    def take_others_first(self, amount: int) -> None:
        """Out of `available`: credits that do not expire first, then lots, soonest-expiring first."""
        in_lots = sum(left for left, _ in self.lots.values())
        self.draw(max(amount - (self.available - in_lots), 0))
        self.available -= amount

    def take_lot(self, key: str, amount: int) -> int:
        """Up to `amount` out of lot `key` only; how much it gave."""
        if key not in self.lots:
            return 0
        left, ends = self.lots[key]
        n = min(left, amount)
        self.lots[key] = (left - n, ends)
        self.available -= n
        return n

    def pay_debt(self) -> int:
        paid = min(self.available, self.debt)
        self.take(paid)
        self.debt -= paid
        self.clawed_back += paid
        return paid

    def draw(self, amount: int) -> dict[str, int]:
        drawn: dict[str, int] = {}
        for k in sorted(self.lots, key=lambda k: (self.lots[k][1], k)):
            left, ends = self.lots[k]
            n = min(left, amount)
            if n > 0:
                self.lots[k] = (left - n, ends)
                drawn[k] = n
                amount -= n
        return drawn

    def give_back(self, held: ModelHold) -> None:
        """The charge counts against the soonest lots (gone ones first); what belonged to a gone lot
        expires."""
        charge, gone = held.charged, 0
        order = sorted(held.drawn, key=lambda k: (self.lots[k][1] if k in self.lots else GONE, k))
        for k in order:
            back = held.drawn[k] - min(held.drawn[k], charge)
            charge -= held.drawn[k] - back
            if k in self.lots:
                self.lots[k] = (self.lots[k][0] + back, self.lots[k][1])
            else:
                gone += back
        self.available += held.amount - held.charged - gone
        self.expired += gone
        self.reserved -= held.amount

    def finish(self, hold_id: str, state: str, charged: int, at: dt.datetime) -> None:
        held = self.holds[hold_id]
        if held.state != "pending":
            return
        self.expire(at)
        held.state, held.charged = state, charged
        self.settled += charged if state == "settled" else 0
        self.give_back(held)
        self.pay_debt()  # credits a hold gives back pay what the wallet owes first

    def counters(self) -> dict[str, int]:
        return {
            "available": self.available,
            "reserved": self.reserved,
            "expired": self.expired,
            "debt": self.debt,
            "granted": self.granted,
            "settled": self.settled,
            "clawed_back": self.clawed_back,
        }
