"""Running ledger transactions: one wallet at a time per process, retried when Firestore aborts them."""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.api_core.exceptions import Aborted
from google.cloud import firestore

from shared.credits.errors import LedgerBusy

T = TypeVar("T")

# The client retries an aborted commit itself, at once and keeping its place in line (TX_ATTEMPTS);
# an aborted read (a wounded transaction) escapes it, and so does a commit that keeps losing. Both
# are retried here with full-jitter exponential backoff until BUSY_AFTER seconds have passed: the
# emulator, unlike production, does not honour the place in line, and retrying at once livelocks it.
TX_ATTEMPTS = 5
BACKOFF_BASE = 0.05
BACKOFF_CAP = 2.0
BUSY_AFTER = 30.0


class WalletTransactions:
    """Transactions on one wallet's documents.

    Transactions on one document serialize in Firestore and contended ones abort and retry, which
    costs far more than waiting: so the requests of one process take turns per wallet here, and
    only requests from different instances contend in Firestore.
    """

    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def run(self, wallet_id: str, body: Callable[[Any], Awaitable[T]]) -> T:
        """Run `body(transaction)` until it commits. It may run several times: Firestore I/O only."""
        lock = self._locks.get(wallet_id)
        if lock is None:
            lock = self._locks[wallet_id] = asyncio.Lock()
        async with lock:
            return await self._run(body)

    async def read(self, tx: Any, *refs: Any) -> list[Any]:
        """Snapshots of `refs`, in the order given, read inside the transaction."""
        found = {snap.reference.path: snap async for snap in self._db.get_all(list(refs), transaction=tx)}
        return [found[ref.path] for ref in refs]

    async def _run(self, body: Callable[[Any], Awaitable[T]]) -> T:
        give_up = time.monotonic() + BUSY_AFTER
        attempt = 0
        while True:
            transaction = self._db.transaction(max_attempts=TX_ATTEMPTS)
            try:
                result: T = await firestore.async_transactional(body)(transaction)
                return result
            except Aborted as exc:
                cause: Exception = exc
            except ValueError as exc:
                if not isinstance(exc.__cause__, Aborted):  # the client gave up after TX_ATTEMPTS commits
                    raise
                cause = exc
            pause = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
            if time.monotonic() + pause > give_up:
                raise LedgerBusy() from cause
            attempt += 1
            await asyncio.sleep(pause)
