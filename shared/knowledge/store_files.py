"""A vector store's files: adding one starts its ingestion job (ingest.py), paid by whoever adds it; the
entry `vector_stores/{vs}/store_files/{file}` says how far it got.

An entry is written `in_progress` with the id of its job before the job is created (the job's last step
needs it), and removed again when the job cannot be created (402, 403): a refused add leaves nothing. Its
status is `completed` once the job's last step wrote the chunks; while it says `in_progress` the job is
asked: a failed job makes the file `failed` with the job's error as `last_error` (OpenAI's codes:
`invalid_file` for an encrypted PDF, no text or a text too long, `server_error` for the provider or a
deadline), a cancelled one `cancelled`. Removing a file takes its chunks out of the store's search at once
and cancels its job when the remover started it (its unspent credits go back).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Literal

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.auth.schemas import Principal
from shared.clock import now
from shared.errors import Conflict
from shared.files.service import FileNotFound, FileService
from shared.ids import new_id, stable_id
from shared.jobs.errors import JobNotFound
from shared.jobs.repository import JobRepository
from shared.jobs.schemas import JobCreate
from shared.jobs.service import JobService
from shared.knowledge.chunking import Chunking
from shared.knowledge.ingest import max_tokens_for
from shared.knowledge.ingest_input import IngestInput
from shared.knowledge.repository import STORE_FILES, KnowledgeRepository
from shared.knowledge.schemas import (
    Attribute,
    ChunkingUsed,
    LastError,
    StaticStrategyObject,
    StoreFile,
    StoreFileDeleted,
    StoreFileList,
)

log = logging.getLogger("knowledge.files")
Status = Literal["in_progress", "completed", "cancelled", "failed"]
OPENAI_CODES = frozenset({"invalid_file", "unsupported_file", "server_error"})


class StoreFileNotFound(FileNotFound):
    code = "vector_store_file_not_found"


class StoreFiles:
    def __init__(
        self,
        repo: KnowledgeRepository,
        files: FileService,
        jobs: JobService,
        job_repo: JobRepository,
        max_tokens: int,
        max_files: int,
    ) -> None:
        self.repo = repo
        self._files = files
        self._jobs = jobs
        self._job_repo = job_repo
        self._max_tokens = max_tokens
        self._max_files = max_files

    async def readable_file(
        self, principal: Principal, owner: str, file_id: str
    ) -> tuple[str, dict[str, Any]]:
        """The file's document, when the caller may read it and it belongs to the store's owner."""
        doc = await self._files.document(principal, file_id)
        if doc.get("owner") != owner:
            raise FileNotFound()
        return file_id, doc

    async def add(
        self,
        principal: Principal,
        store_id: str,
        store: dict[str, Any],
        file_id: str,
        attributes: dict[str, Attribute] | None,
        chunking: Chunking,
    ) -> StoreFile:
        _, file_doc = await self.readable_file(principal, str(store["owner"]), file_id)
        existing = await self.repo.store_file(store_id, file_id).get()
        if existing.exists:
            return await self.view(store_id, file_id, existing.to_dict() or {})
        count = await self.repo.store(store_id).collection(STORE_FILES).count().get()
        if int(count[0][0].value) >= self._max_files:
            raise Conflict(
                f"The vector store already holds {self._max_files} files, the most it may; use another.",
                code="too_many_files_in_store",
            )
        entry = await self.start(principal, store_id, store, file_id, file_doc, attributes, chunking)
        return await self.view(store_id, file_id, entry)

    async def start(
        self,
        principal: Principal,
        store_id: str,
        store: dict[str, Any],
        file_id: str,
        file_doc: dict[str, Any],
        attributes: dict[str, Attribute] | None,
        chunking: Chunking,
    ) -> dict[str, Any]:
        """Write the entry, then create the file's ingestion job (the caller pays); undone on a refusal."""
        key = f"vector_store_file:{new_id()}"
        entry = {
            "file_id": file_id,
            "filename": file_doc["filename"],
            "type": file_doc["type"],
            "bytes": int(file_doc["bytes"]),
            "status": "in_progress",
            "job_id": stable_id("job", principal.user_id, key),
            "user_id": principal.user_id,
            "attributes": attributes,
            "chunking": {"size": chunking.size, "overlap": chunking.overlap},
            "chunks": 0,
            "usage_bytes": 0,
            "created_at": int(now().timestamp()),
        }
        ref = self.repo.store_file(store_id, file_id)
        try:
            await ref.create(entry)
        except AlreadyExists:
            return (await ref.get()).to_dict() or entry
        spec = IngestInput(
            store_id=store_id,
            file_id=file_id,
            path=str(file_doc["path"]),
            kind=str(file_doc["type"]),
            filename=str(file_doc["filename"]),
            model=str(store["model"]),
            size=chunking.size,
            overlap=chunking.overlap,
            max_tokens=max_tokens_for(str(file_doc["type"]), int(file_doc["bytes"]), self._max_tokens),
        )
        try:
            await self._jobs.create(principal, JobCreate(type="vector_store_file", input=spec), key)
        except BaseException:
            await ref.delete()
            raise
        log.info("file added to vector store", extra={"store_id": store_id, "file_id": file_id})
        return entry

    async def get(self, store_id: str, file_id: str) -> StoreFile:
        snap = await self.repo.store_file(store_id, file_id).get() if file_id.startswith("file-") else None
        if snap is None or not snap.exists:
            raise StoreFileNotFound()
        return await self.view(store_id, file_id, snap.to_dict() or {})

    async def list_for(
        self,
        store_id: str,
        limit: int,
        order: str,
        after: str | None,
        status: str | None,
        only: set[str] | None = None,
    ) -> StoreFileList:
        query = self.repo.store(store_id).collection(STORE_FILES)
        direction = firestore.Query.ASCENDING if order == "asc" else firestore.Query.DESCENDING
        ordered = query.order_by("created_at", direction=direction)
        entries = [(s.id, s.to_dict() or {}) async for s in ordered.stream() if only is None or s.id in only]
        views = [await self.view(store_id, i, d) for i, d in entries]
        if status:
            views = [v for v in views if v.status == status]
        if after:
            ids = [v.id for v in views]
            views = views[ids.index(after) + 1 :] if after in ids else []
        page = views[:limit]
        return StoreFileList(
            data=page,
            has_more=len(views) > limit,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
        )

    async def remove(self, principal: Principal, store_id: str, file_id: str) -> StoreFileDeleted:
        ref = self.repo.store_file(store_id, file_id) if file_id.startswith("file-") else None
        snap = await ref.get() if ref is not None else None
        if ref is None or snap is None or not snap.exists:
            raise StoreFileNotFound()
        await ref.delete()
        await self.repo.delete_chunks("file_id", file_id, ("store_id", store_id))
        await self.repo.bump_if_exists(store_id, int(now().timestamp()))
        await self.stop(principal, snap.to_dict() or {})
        return StoreFileDeleted(id=file_id)

    async def stop(self, principal: Principal, entry: dict[str, Any]) -> None:
        """Cancel the entry's ingestion if it still runs and the caller started it."""
        if entry.get("status") == "in_progress" and entry.get("user_id") == principal.user_id:
            with contextlib.suppress(JobNotFound):
                await self._jobs.cancel(principal, str(entry["job_id"]))

    async def status(self, entry: dict[str, Any]) -> tuple[Status, LastError | None]:
        stored = str(entry.get("status") or "in_progress")
        if stored != "in_progress":
            error = entry.get("last_error")
            return stored, LastError.model_validate(error) if error else None  # type: ignore[return-value]
        job = await self._job_repo.get(str(entry.get("job_id")))
        if job is None:
            return "failed", LastError(code="server_error", message="The file's ingestion was lost.")
        if job.state == "failed":
            code = job.error.code if job.error and job.error.code in OPENAI_CODES else "server_error"
            message = job.error.message if job.error else "The file could not be indexed."
            return "failed", LastError(code=code, message=message)
        if job.state == "cancelled":
            return "cancelled", None
        return "in_progress", None

    async def view(self, store_id: str, file_id: str, entry: dict[str, Any]) -> StoreFile:
        status, error = await self.status(entry)
        chunking = entry.get("chunking") or {}
        strategy = None
        if chunking:
            static = ChunkingUsed(
                max_chunk_size_tokens=int(chunking["size"]), chunk_overlap_tokens=int(chunking["overlap"])
            )
            strategy = StaticStrategyObject(static=static)
        return StoreFile(
            id=file_id,
            created_at=int(entry.get("created_at") or 0),
            vector_store_id=store_id,
            status=status,
            last_error=error,
            usage_bytes=int(entry.get("usage_bytes") or 0),
            attributes=entry.get("attributes"),
            chunking_strategy=strategy,
            chunks=int(entry.get("chunks") or 0),
        )
