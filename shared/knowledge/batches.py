"""File batches of a vector store (OpenAI's `/v1/vector_stores/{id}/file_batches`, what the SDK's
`file_batches.create_and_poll` and `upload_and_poll` call): several files added at once.

A batch is `vector_stores/{vs}/file_batches/{vsfb_id}` naming its files; each file is added as by
POST .../files (store_files.py), after every file was checked (404 before anything is written). A refusal
on the way (402) removes the entries this batch added. Its `file_counts` and `status` are its files'
(in_progress while any is; then cancelled if any was, else completed, or failed when every file failed);
a file removed from the store since no longer counts. Cancelling cancels the jobs still running.
"""

from __future__ import annotations

import contextlib
from typing import Any

from shared.auth.schemas import Principal
from shared.clock import now
from shared.errors import NotFound
from shared.ids import new_id
from shared.knowledge.chunking import Chunking
from shared.knowledge.schemas import FileBatch, FileBatchCreate, FileCounts, StoreFileList
from shared.knowledge.store_files import StoreFiles

BATCHES = "file_batches"


class BatchNotFound(NotFound):
    code = "file_batch_not_found"

    def __init__(self) -> None:
        super().__init__("No such file batch in this vector store.")


class FileBatches:
    def __init__(self, files: StoreFiles) -> None:
        self._files = files
        self._repo = files.repo

    def _ref(self, store_id: str, batch_id: str) -> Any:
        return self._repo.store(store_id).collection(BATCHES).document(batch_id)

    async def create(
        self,
        principal: Principal,
        store_id: str,
        store: dict[str, Any],
        body: FileBatchCreate,
        chunking: Any,
    ) -> FileBatch:
        """`chunking(strategy)` gives a file's chunking (the store's default when None)."""
        wanted = {f.file_id: f for f in body.each()}
        docs = [await self._files.readable_file(principal, str(store["owner"]), f) for f in wanted]
        batch_id = f"vsfb_{new_id()}"
        at = int(now().timestamp())
        await self._ref(store_id, batch_id).create({"file_ids": list(wanted), "created_at": at})
        added: list[str] = []
        try:
            for file_id, file_doc in docs:
                spec = wanted[file_id]
                if (await self._repo.store_file(store_id, file_id).get()).exists:
                    continue  # already in the store: the batch counts it as it is
                parts: Chunking = chunking(spec.chunking_strategy)
                await self._files.start(principal, store_id, store, file_id, file_doc, spec.attributes, parts)
                added.append(file_id)
        except BaseException:
            with contextlib.suppress(Exception):
                for file_id in added:
                    await self._files.remove(principal, store_id, file_id)
                await self._ref(store_id, batch_id).delete()
            raise
        return await self.get(store_id, batch_id)

    async def _doc(self, store_id: str, batch_id: str) -> dict[str, Any]:
        snap = await self._ref(store_id, batch_id).get() if batch_id.startswith("vsfb_") else None
        if snap is None or not snap.exists:
            raise BatchNotFound()
        return snap.to_dict() or {}

    async def get(self, store_id: str, batch_id: str) -> FileBatch:
        doc = await self._doc(store_id, batch_id)
        counts = FileCounts()
        for file_id in doc["file_ids"]:
            entry = await self._repo.store_file(store_id, file_id).get()
            if not entry.exists:
                continue
            state = (await self._files.status(entry.to_dict() or {}))[0]
            setattr(counts, state, getattr(counts, state) + 1)
            counts.total += 1
        status = "in_progress" if counts.in_progress else "cancelled" if counts.cancelled else "completed"
        if counts.total and counts.failed == counts.total:
            status = "failed"
        return FileBatch(
            id=batch_id,
            created_at=int(doc["created_at"]),
            vector_store_id=store_id,
            status=status,  # type: ignore[arg-type]
            file_counts=counts,
        )

    async def cancel(self, principal: Principal, store_id: str, batch_id: str) -> FileBatch:
        doc = await self._doc(store_id, batch_id)
        for file_id in doc["file_ids"]:
            entry = await self._repo.store_file(store_id, file_id).get()
            if entry.exists:
                await self._files.stop(principal, entry.to_dict() or {})
        return await self.get(store_id, batch_id)

    async def files(
        self, store_id: str, batch_id: str, limit: int, order: str, after: str | None, status: str | None
    ) -> StoreFileList:
        doc = await self._doc(store_id, batch_id)
        return await self._files.list_for(store_id, limit, order, after, status, only=set(doc["file_ids"]))
