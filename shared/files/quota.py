"""Each owner's file count and stored bytes, in `file_usage/{owner}`: taken in a Firestore transaction
before the bytes are written (two uploads racing for the last slot cannot both win: the loser's
transaction retries, reads the winner's count and is refused) and given back when a file is deleted or
its upload fails."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from shared.errors import AppError, Conflict, PaymentRequired
from shared.plans.offers import PlanOffer

USAGE = "file_usage"


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

    def ref(self, owner: str) -> Any:
        return self._db.collection(USAGE).document(owner)

    async def take(self, owner: str, size: int, offer: PlanOffer) -> None:
        """Count one more file of `size` bytes, or refuse (413, 409, 402) leaving everything as it was."""
        check_size(size, offer)
        ref = self.ref(owner)

        @firestore.async_transactional
        async def take(tx: Any) -> None:
            self.claim(tx, (await ref.get(transaction=tx)).to_dict() or {}, owner, size, offer)

        await take(self._db.transaction())

    def claim(self, tx: Any, usage: dict[str, Any], owner: str, size: int, offer: PlanOffer) -> None:
        """Inside the caller's transaction (which read `usage`): one more file of `size` bytes, or refuse
        (409 too_many_files, 402 storage_quota_exceeded) writing nothing."""
        check_room(usage, size, offer)
        count, stored = int(usage.get("count", 0)), int(usage.get("bytes", 0))
        tx.set(self.ref(owner), {"count": count + 1, "bytes": stored + size}, merge=True)

    async def give_back(self, owner: str, size: int) -> None:
        """Undo one take (an upload that failed after taking its slot)."""
        ref = self.ref(owner)

        @firestore.async_transactional
        async def give(tx: Any) -> None:
            self.release(tx, (await ref.get(transaction=tx)).to_dict() or {}, owner, size)

        await give(self._db.transaction())

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
