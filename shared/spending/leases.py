"""Credit leases: chat calls admitted in memory, with no Firestore round trip before the first byte.

Per process one LeaseBook holds, per (wallet, spender), a lease: a real pending hold of
`credit_lease_credits` made through the Payer (so a workspace wallet's shards and member limits apply).
A call takes its worst case from the lease's free part (shared/spending/lease.py) and gives back what it
did not use when it ends. In the background, every `credit_lease_flush_s` (sooner when many records
wait), each lease's progress (`used`, absolute) and the usage records of its calls settled since the
last flush are written in ONE transaction (Ledger.record_progress), which also keeps the hold alive.
A lease idle for `credit_lease_idle_s` is flushed and settled for what it used, the rest given back.

`take` answers None, and the call makes its own per-call hold as before, when leases are off, the call
may cost more than a lease, the wallet was recently too low for a lease (`credit_lease_low_s`), or the
reserve failed. A wallet too low (or in debt) is remembered for all its spenders, so 50 members of a
small team wallet do not each try (and fail) a lease reserve every `credit_lease_low_s`; a member over
their own limit is remembered for that member only. A lease reserve asks for exactly the lease size,
so a balance smaller than a lease always uses per-call holds. When a lease's free part drops under
half, the next lease is reserved in the background (at most one top-up per key at a time); a lease
without room for a call is retired and closed once its calls end.

The bound: a call is admitted only while unflushed + in flight + its want <= one lease for its key, so
if the instance dies, what was charged in memory but not flushed is at most one lease per
(wallet, spender) per instance. The reconciler expires the dead instance's lease holds, charging what
they recorded (Ledger._finish); a settle after an expiry charges the difference late, never twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from shared import clock
from shared.ledger.errors import InsufficientCredits, PaymentDebt
from shared.settings import Settings
from shared.spending.lease import Key, Lease, LeasedCall
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder
from shared.workspaces.errors import MemberLimitExceeded

log = logging.getLogger("credits.leases")

FLUSH_SOON = 50  # records waiting that make the flush run before its interval
MAX_RECORDS = 200  # usage records per progress transaction (Firestore allows 500 writes in one)
FLUSH_CONCURRENCY = 16
CLOSE_ATTEMPTS = 3  # flushes that may fail before a closing lease is settled anyway
LOW = (InsufficientCredits, PaymentDebt, MemberLimitExceeded)


class LeaseBook:
    def __init__(
        self,
        payer: Payer,
        usage: UsageRecorder,
        settings: Settings,
        *,
        instance_id: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.payer = payer
        self.usage = usage
        self.size = settings.credit_lease_credits
        self.ttl_s = settings.credit_lease_ttl_s
        self.flush_s = settings.credit_lease_flush_s
        self.idle_s = settings.credit_lease_idle_s
        self.low_s = settings.credit_lease_low_s
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self.monotonic = monotonic
        self.leases: dict[Key, list[Lease]] = {}
        self._low: dict[Key, float] = {}
        self._low_wallets: dict[str, float] = {}  # wallet id -> until when it is too low for a lease
        self._reserving: dict[Key, asyncio.Lock] = {}
        self._topping: set[Key] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._n = 0
        self._open = False
        self._loop: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._drained: asyncio.Event | None = None  # set when the last call ends, while closing

    # Life cycle.

    async def start(self, *, background: bool = True) -> None:
        """Admit calls from now on; with `background`, flush and close idle leases in a task (tests and
        the simulator drive `flush` and `sweep` themselves)."""
        self._open = self.size > 0
        if self._open and background and self._loop is None:
            self._wake = asyncio.Event()
            self._loop = asyncio.create_task(self._run(), name="credit-leases")

    async def close(self, grace_s: float = 5.0) -> None:
        """Shutdown: admit no more, let the calls in flight end (up to `grace_s`), then flush and settle
        every lease."""
        self._open = False
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        await self.quiet()
        if any(lease.calls for lease in self.all()):
            self._drained = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), grace_s)
        for lease in self.all():
            lease.retired = True
            if lease.calls:
                log.error("lease closed with calls in flight", extra=self._fields(lease))
        await self.sweep(force=True)

    async def quiet(self) -> None:
        """Wait for the top-ups in flight (tests and the simulator, so that a seed replays)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def all(self) -> list[Lease]:
        return [lease for leases in self.leases.values() for lease in leases]

    # Admitting calls.

    async def take(self, wallet_id: str, spender: str, want: int) -> LeasedCall | None:
        """Admit a call of at most `want` credits from a lease; None: use a per-call hold."""
        if not self._open or not 0 < want <= self.size:
            return None
        key = (wallet_id, spender)
        at = self.monotonic()
        if self._low.get(key, 0.0) > at or self._low_wallets.get(wallet_id, 0.0) > at:
            return None
        if not self._room(key, want):
            self.kick()  # the crash bound: flush what was charged in memory first
            return None
        call = self._admit(key, want)
        if call is None:
            lock = self._reserving.setdefault(key, asyncio.Lock())
            async with lock:
                call = self._admit(key, want)  # a top-up or another call may have made one meanwhile
                if call is None and self._room(key, want) and await self._reserve(key):
                    call = self._admit(key, want)
        if call is not None:
            self._top_up(key)
        return call

    def _room(self, key: Key, want: int) -> bool:
        leases = self.leases.get(key, [])
        return sum(lease.unflushed + lease.in_flight for lease in leases) + want <= self.size

    def _admit(self, key: Key, want: int) -> LeasedCall | None:
        soon = clock.now() + dt.timedelta(seconds=self.ttl_s / 4)
        for lease in self.leases.get(key, []):
            if lease.retired:
                continue
            if lease.free < want or lease.expires_at <= soon or lease.expired:
                self._retire(lease)
                continue
            lease.take(want, self.monotonic())
            return LeasedCall(lease, want, self.monotonic, self._ended)
        return None

    def _retire(self, lease: Lease) -> None:
        lease.retired = True
        if lease.calls == 0:
            self.kick()

    def _ended(self, lease: Lease) -> None:
        if self._drained is not None and not any(x.calls for x in self.all()):
            self._drained.set()
        if (lease.retired and lease.calls == 0) or sum(len(x.records) for x in self.all()) >= FLUSH_SOON:
            self.kick()

    def _top_up(self, key: Key) -> None:
        live = [lease for lease in self.leases.get(key, []) if not lease.retired]
        if key in self._topping or sum(lease.free for lease in live) * 2 >= self.size:
            return
        self._topping.add(key)

        async def top_up() -> None:
            try:
                async with self._reserving.setdefault(key, asyncio.Lock()):
                    live = [lease for lease in self.leases.get(key, []) if not lease.retired]
                    if sum(lease.free for lease in live) * 2 < self.size:
                        await self._reserve(key)
            finally:
                self._topping.discard(key)

        self._spawn(top_up())

    async def _reserve(self, key: Key) -> bool:
        wallet_id, spender = key
        self._n += 1
        hold_id = f"lease-{self.instance_id}-{self._n}"
        try:
            hold = await self.payer.reserve(
                wallet_id, hold_id, self.size, self.size, self.ttl_s, ref="lease", spender=spender
            )
        except LOW as exc:
            if isinstance(exc, MemberLimitExceeded):
                self._low[key] = self.monotonic() + self.low_s
            else:  # the wallet itself cannot hold a lease: no spender of it needs to try meanwhile
                self._low_wallets[wallet_id] = self.monotonic() + self.low_s
            log.info("wallet too low for a lease", extra={"wallet_id": wallet_id, "code": exc.code})
            return False
        except Exception:
            self._low[key] = self.monotonic() + self.low_s
            log.exception("lease reserve failed", extra={"wallet_id": wallet_id, "hold_id": hold_id})
            return False
        lease = Lease(key, hold.id, hold.wallet_id, hold.amount, hold.expires_at, self.monotonic())
        self.leases.setdefault(key, []).append(lease)
        log.info("lease reserved", extra=self._fields(lease))
        return True

    # Flushing and closing.

    def kick(self) -> None:
        """Run the background flush now rather than at its interval."""
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_s)
            self._wake.clear()
            try:
                await self.flush()
                await self.sweep()
            except Exception:
                log.exception("lease flush failed")

    async def flush(self) -> int:
        """Write every lease's progress and waiting records; how many leases were written."""
        gate = asyncio.Semaphore(FLUSH_CONCURRENCY)

        async def one(lease: Lease) -> bool:
            async with gate, lease.lock:
                return await self._flush(lease)

        due = [lease for lease in self.all() if self._due(lease)]
        return sum(await asyncio.gather(*(one(lease) for lease in due)))

    def _due(self, lease: Lease) -> bool:
        if lease.records or (lease.unflushed and not lease.expired):
            return True
        renew = clock.now() + dt.timedelta(seconds=self.ttl_s / 2)
        return not lease.expired and lease.calls > 0 and lease.expires_at <= renew

    async def _flush(self, lease: Lease) -> bool:
        batch = lease.records[:MAX_RECORDS]
        used = lease.used
        lease.seq += 1  # every attempt a new seq: a lost answer's retry is not mistaken for a replay
        writes = [(self.usage.document(record_id), fields) for record_id, fields in batch]
        try:
            hold = await self.payer.ledger.record_progress(
                lease.wallet_id, lease.hold_id, used, lease.seq, self.ttl_s, writes
            )
        except Exception:
            log.warning("lease flush failed", extra=self._fields(lease), exc_info=True)
            return False
        del lease.records[: len(batch)]
        lease.expires_at = hold.expires_at
        if hold.state == "pending":
            lease.flushed_used = used
        elif not lease.expired:
            # Finished under us (the reconciler expired it: this instance stalled past its expiry). Its
            # records are written but its progress is not: what it used is charged, late, at the close.
            lease.expired = True
            log.error(
                "lease hold finished under a live lease", extra=self._fields(lease) | {"state": hold.state}
            )
            self._retire(lease)
        return True

    async def sweep(self, *, force: bool = False) -> int:
        """Close the retired leases whose calls ended and the idle ones (all of them with `force`)."""
        at = self.monotonic()
        closing = [
            lease
            for lease in self.all()
            if lease.calls == 0 and (force or lease.retired or at - lease.last_active >= self.idle_s)
        ]
        return sum([await self._close(lease) for lease in closing])

    async def _close(self, lease: Lease) -> bool:
        async with lease.lock:
            lease.retired = True
            if lease.calls:
                return False
            while lease.records or (lease.unflushed and not lease.expired):
                if not await self._flush(lease):
                    lease.close_failures += 1
                    if lease.close_failures < CLOSE_ATTEMPTS:
                        return False
                    log.error("lease settled with records unwritten", extra=self._fields(lease))
                    break
            try:
                hold = await self.payer.settle(lease.wallet_id, lease.hold_id, lease.used)
            except Exception:
                log.exception("lease settle failed", extra=self._fields(lease))
                return False
            leases = self.leases.get(lease.key, [])
            if lease in leases:
                leases.remove(lease)
            if not leases:
                self.leases.pop(lease.key, None)
            log.info("lease closed", extra=self._fields(lease) | {"charged": hold.charged})
            return True

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _fields(lease: Lease) -> dict[str, Any]:
        return {
            "wallet_id": lease.wallet_id,
            "hold_id": lease.hold_id,
            "amount": lease.amount,
            "used": lease.used,
            "in_flight": lease.in_flight,
        }
