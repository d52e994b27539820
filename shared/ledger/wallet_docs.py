"""The one module that reads and writes wallet documents, their holds and their entries.

`wallets/{wallet}` holds the counters (WalletState), `wallets/{wallet}/holds/{hold}` the reservations and
`wallets/{wallet}/entries/{id}` the immutable entries, whose ids derive from their kind and external id
(so a replayed operation finds its entry and changes nothing). The ledger, shard transfers, purchases
and disputes all run their transactions through one WalletDocs per process: it runs them (one wallet at
a time per process, WalletTransactions) and it is the only code that names these collections, so every
write to a wallet goes through the methods below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.ids import stable_id
from shared.ledger.lots import lot_id
from shared.ledger.records import ENTRIES, HOLDS, WALLETS, WalletState, Written
from shared.ledger.transactions import WalletTransactions


class WalletDocs(WalletTransactions):
    def __init__(self, db: firestore.AsyncClient) -> None:
        super().__init__(db)

    # References: what a transaction reads (through `read`) before it writes.

    def wallet(self, wallet_id: str) -> Any:
        return self._db.collection(WALLETS).document(wallet_id)

    def hold(self, wallet_id: str, hold_id: str) -> Any:
        return self.wallet(wallet_id).collection(HOLDS).document(hold_id)

    def entry(self, wallet_id: str, kind: str, external_id: str) -> Any:
        return self.wallet(wallet_id).collection(ENTRIES).document(stable_id(kind, external_id))

    # Writes, inside a transaction.

    def set_wallet(self, tx: Any, wallet_id: str, wallet: WalletState, at: dt.datetime) -> None:
        tx.set(self.wallet(wallet_id), wallet.to_doc(at))

    def set_hold(self, tx: Any, wallet_id: str, hold_id: str, doc: dict[str, Any]) -> None:
        tx.set(self.hold(wallet_id, hold_id), doc)

    def update_hold(self, tx: Any, wallet_id: str, hold_id: str, fields: dict[str, Any]) -> None:
        tx.update(self.hold(wallet_id, hold_id), fields)

    def add_entry(self, tx: Any, wallet_id: str, kind: str, external_id: str, doc: dict[str, Any]) -> None:
        tx.set(self.entry(wallet_id, kind, external_id), doc)

    def add_entries(self, tx: Any, wallet_id: str, written: Written) -> None:
        for kind, ref, doc in written:
            self.add_entry(tx, wallet_id, kind, ref, doc)

    def pay_debt(self, tx: Any, wallet_id: str, wallet: WalletState, ref: str, at: dt.datetime) -> int:
        """Credits just came in: if the wallet owes, they pay the debt first (a `debt_paid` entry).
        Return what was paid."""
        paid = wallet.pay_debt(ref, at)
        if paid is None:
            return 0
        self.add_entry(tx, wallet_id, "debt_paid", ref, paid)
        return -int(paid["amount"])

    def credit(
        self,
        tx: Any,
        wallet_id: str,
        wallet: WalletState,
        kind: str,
        amount: int,
        ref: str,
        at: dt.datetime,
        expires_at: dt.datetime | None = None,
    ) -> None:
        """Credits come in (a grant, a purchase): counted as granted, recorded as an entry of `kind`, paying
        the wallet's debt first; with `expires_at`, what is left forms the lot lot_id(kind, ref)."""
        wallet.available += amount
        wallet.granted += amount
        extra = {} if expires_at is None else {"expires_at": expires_at}
        self.add_entry(tx, wallet_id, kind, ref, wallet.entry(kind, amount, ref, at, **extra))
        paid = self.pay_debt(tx, wallet_id, wallet, f"{kind}:{ref}", at)
        if expires_at is not None:
            wallet.add_lot(lot_id(kind, ref), amount - paid, expires_at)

    # Reads outside a transaction.

    async def state(self, wallet_id: str) -> WalletState:
        snap = await self.wallet(wallet_id).get()
        return WalletState.from_doc(snap.to_dict())

    async def states(self, wallet_ids: list[str]) -> list[WalletState]:
        """Several wallets in one batch read (one consistent read), in the order given."""
        refs = [self.wallet(w) for w in wallet_ids]
        found = {snap.id: snap.to_dict() async for snap in self._db.get_all(refs)}
        return [WalletState.from_doc(found.get(w)) for w in wallet_ids]

    async def hold_doc(self, wallet_id: str, hold_id: str) -> dict[str, Any] | None:
        snap = await self.hold(wallet_id, hold_id).get()
        return snap.to_dict() if snap.exists else None

    async def find_hold(self, wallet_ids: list[str], hold_id: str) -> dict[str, Any] | None:
        """The hold `hold_id` in the first of `wallet_ids` that has it (one batch read)."""
        refs = [self.hold(w, hold_id) for w in wallet_ids]
        for snap in [s async for s in self._db.get_all(refs)]:
            if snap.exists:
                doc: dict[str, Any] = snap.to_dict()
                return doc
        return None

    async def due_holds(self, at: dt.datetime, limit: int) -> AsyncIterator[tuple[str, str]]:
        """(wallet id, hold id) of pending holds whose expiry has passed, across every wallet."""
        query = (
            self._db.collection_group(HOLDS)
            .where(filter=FieldFilter("state", "==", "pending"))
            .where(filter=FieldFilter("expires_at", "<=", at))
            .limit(limit)
        )
        async for snap in query.stream():
            yield snap.reference.parent.parent.id, snap.id

    async def with_due_lots(self, at: dt.datetime, limit: int) -> list[str]:
        """Ids of wallets with a lot whose expiry has passed."""
        query = (
            self._db.collection(WALLETS).where(filter=FieldFilter("next_lot_expiry", "<=", at)).limit(limit)
        )
        return [snap.id async for snap in query.stream()]

    async def entry_docs(self, wallet_id: str, limit: int, before_seq: int | None) -> list[tuple[str, Any]]:
        """Up to `limit` entries, newest first, those before `before_seq` when given: (id, document)."""
        query = (
            self.wallet(wallet_id).collection(ENTRIES).order_by("seq", direction=firestore.Query.DESCENDING)
        )
        if before_seq is not None:
            query = query.where(filter=FieldFilter("seq", "<", before_seq))
        return [(snap.id, snap.to_dict()) async for snap in query.limit(limit).stream()]
