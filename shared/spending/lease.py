"""One credit lease in memory, and one call admitted from it.

A lease is a real pending hold of `amount` credits on one wallet (shared/spending/leases.py reserves,
flushes and settles it). Calls take their worst case (`want`) from its free part; a call that ends adds
what it cost (at most its want) to `used` and gives the rest back to `free`. Always
free + in_flight + used == amount, no part negative: a call is only ever admitted from reserved credits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]  # (wallet id as the caller names it, spender's user id)


@dataclass(eq=False)  # a lease is itself: compared by identity
class Lease:
    key: Key
    hold_id: str
    wallet_id: str  # the hold's own wallet (a shard for a workspace wallet)
    amount: int
    expires_at: dt.datetime
    last_active: float  # monotonic seconds: when a call last started or ended
    free: int = -1
    in_flight: int = 0
    used: int = 0
    calls: int = 0
    flushed_used: int = 0  # `used` as the ledger last recorded it
    seq: int = 0  # the last progress seq sent (every attempt a new one)
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # waiting for a flush
    retired: bool = False  # admits no new calls; closed once its calls end
    expired: bool = False  # the ledger says its hold is no longer pending
    close_failures: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one flush or close at a time

    def __post_init__(self) -> None:
        if self.free < 0:
            self.free = self.amount

    @property
    def unflushed(self) -> int:
        """Credits charged in memory that a crash now would leave uncharged."""
        return self.used - self.flushed_used

    def check(self) -> None:
        parts = (self.free, self.in_flight, self.used)
        if min(parts) < 0 or sum(parts) != self.amount or self.flushed_used > self.used:
            raise AssertionError(
                f"lease {self.hold_id} is off: free, in flight, used {parts} of {self.amount}"
            )

    def take(self, want: int, at: float) -> None:
        if not 0 < want <= self.free or self.retired:
            raise AssertionError(f"lease {self.hold_id} cannot admit {want} (free {self.free})")
        self.free -= want
        self.in_flight += want
        self.calls += 1
        self.last_active = at

    def end(self, want: int, charged: int, at: float) -> None:
        self.in_flight -= want
        self.used += charged
        self.free += want - charged
        self.calls -= 1
        self.last_active = at


class LeasedCall:
    """A chat call admitted from a lease: it ends once, by `settle` or `release`, in memory.
    `on_end` tells the book (it may close a retired lease, or flush sooner)."""

    def __init__(self, lease: Lease, want: int, clock: Callable[[], float], on_end: Callable[[Lease], None]):
        self.lease = lease
        self.amount = want
        self._clock = clock
        self._on_end = on_end
        self.charged: int | None = None

    @property
    def wallet_id(self) -> str:
        return self.lease.wallet_id

    def settle(self, cost: int) -> int:
        """Charge min(cost, want) against the lease; a second end changes nothing."""
        if self.charged is None:
            self.charged = min(max(cost, 0), self.amount)
            self.lease.end(self.amount, self.charged, self._clock())
            self._on_end(self.lease)
        return self.charged

    def release(self) -> None:
        self.settle(0)

    def record(self, record_id: str, stamped: dict[str, Any]) -> None:
        """Queue the call's usage record (already stamped) for the lease's next flush."""
        self.lease.records.append((record_id, stamped))
        self._on_end(self.lease)
