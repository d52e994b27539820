"""Each owner's file count and stored bytes, in `file_usage/{owner}`: taken in a Firestore transaction
before the bytes are written (two uploads racing for the last slot cannot both win: the loser's
transaction retries, reads the winner's count and is refused) and given back when a file is deleted or
its upload fails."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from google.cloud import firestore

from shared.adapters.firestore import run_transaction
from shared.errors import AppError, Conflict, PaymentRequired
from shared.plans.offers import PlanOffer

USAGE = "file_usage"
# Uploads racing for one owner's usage document retry with backoff this long, then answer 503 `busy`
# (shared/adapters/firestore.py) rather than fail with the client's "Failed to commit" as a 500.
BUSY_S = 10.0


class FileTooLarge(AppError):
    status = 413
    type = "invalid_request_error"
    code = "file_too_large"


class TooManyFiles(Conflict):
    code = "too_many_files"


class StorageQuotaExceeded(PaymentRequired):
    type = "invalid_request_error"
    code = "storage_quota_exceeded"


def check_size(size: int, offer: PlanOffer) -> None:
    if size > offer.max_file_bytes:
        raise FileTooLarge(f"A file on the {offer.name} plan has at most {offer.max_file_bytes} bytes.")


def check_room(usage: dict[str, Any], size: int, offer: PlanOffer) -> None:
    """Refuse a file of `size` bytes that the owner's `usage` has no room for (409, 402)."""
    count, stored = int(usage.get("count", 0)), int(usage.get("bytes", 0))
    if count + 1 > offer.max_files:
        raise TooManyFiles(f"The {offer.name} plan keeps at most {offer.max_files} files; delete one first.")
    if stored + size > offer.file_storage_bytes:
        raise StorageQuotaExceeded(
            f"The {offer.name} plan stores at most {offer.file_storage_bytes} bytes of files "
            f"({stored} used); delete files or upgrade the plan."
        )


class FileQuota:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, owner: str) -> asyncio.Lock:
        """One instance's writers of `owner`'s usage take turns: on the emulator, ten transactions on one
        document at once wait on each other's locks until they time out; other instances' writers still
        contend, and run_transaction's backoff handles them."""
        found = self._locks.get(owner)
        if found is None:
            found = self._locks[owner] = asyncio.Lock()
        return found

    def ref(self, owner: str) -> Any:
        return self._db.collection(USAGE).document(owner)

    async def take(self, owner: str, size: int, offer: PlanOffer) -> None:
        """Count one more file of `size` bytes, or refuse (413, 409, 402) leaving everything as it was."""
        check_size(size, offer)
        ref = self.ref(owner)

        async def take(tx: Any) -> None:
            self.claim(tx, (await ref.get(transaction=tx)).to_dict() or {}, owner, size, offer)

        async with self.lock(owner):
            await run_transaction(self._db, take, BUSY_S)

    def claim(self, tx: Any, usage: dict[str, Any], owner: str, size: int, offer: PlanOffer) -> None:
        """Inside the caller's transaction (which read `usage`): one more file of `size` bytes, or refuse
        (409 too_many_files, 402 storage_quota_exceeded) writing nothing."""
        check_room(usage, size, offer)
        count, stored = int(usage.get("count", 0)), int(usage.get("bytes", 0))
        tx.set(self.ref(owner), {"count": count + 1, "bytes": stored + size}, merge=True)

    async def give_back(self, owner: str, size: int) -> None:
        """Undo one take (an upload that failed after taking its slot)."""
        ref = self.ref(owner)

        async def give(tx: Any) -> None:
            self.release(tx, (await ref.get(transaction=tx)).to_dict() or {}, owner, size)

        async with self.lock(owner):
            await run_transaction(self._db, give, BUSY_S)

    def release(self, tx: Any, usage: dict[str, Any], owner: str, size: int) -> None:
        """Inside the caller's transaction (which read `usage`): one file of `size` bytes fewer."""
        tx.set(
            self.ref(owner),
            {
                "count": max(int(usage.get("count", 0)) - 1, 0),
                "bytes": max(int(usage.get("bytes", 0)) - size, 0),
            },
            merge=True,
        )

    async def usage(self, owner: str) -> dict[str, int]:
        doc = (await self.ref(owner).get()).to_dict() or {}
        return {"count": int(doc.get("count", 0)), "bytes": int(doc.get("bytes", 0))}
