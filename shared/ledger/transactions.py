"""Running ledger transactions: one wallet at a time per process, retried when Firestore aborts them."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.cloud import firestore

from shared.adapters.firestore import TransactionBusy, run_transaction
from shared.ledger.errors import LedgerBusy
from shared.telemetry import metrics, tracing

T = TypeVar("T")

BUSY_AFTER = 30.0  # seconds of aborted attempts before a ledger call answers 503 ledger_busy


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
        try:
            with tracing.span(
                "ledger.transaction", operation=getattr(body, "__qualname__", "").split(".<locals>")[0]
            ):
                return await run_transaction(self._db, body, BUSY_AFTER)
        except TransactionBusy as exc:
            metrics.LEDGER_BUSY.add(1)
            raise LedgerBusy() from exc.__cause__
