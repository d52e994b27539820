"""Vector stores: create, read, list, update, delete; their files are store_files.py, search is search.py.

A store belongs to its creator, or (created with X-Workspace-ID) to the workspace: members read, search
and add files; its creator or an owner/admin renames and deletes it. Anyone else gets 404
vector_store_not_found, as for a store that does not exist. A store holds files of its own owner only.
Creating one with `file_ids` checks every file first (404 before anything is written), then writes the
store and starts one ingestion job per file; a refusal on the way (402) removes what was written.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Literal

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.auth.schemas import Principal
from shared.catalog.embeddings import EmbeddingCatalog
from shared.clock import now
from shared.errors import BadRequest, Conflict, NotFound
from shared.files.service import owner_of
from shared.ids import new_id
from shared.knowledge.chunking import Chunking, auto_chunking
from shared.knowledge.repository import DAY_S, STORES, KnowledgeRepository, expire_at_of
from shared.knowledge.schemas import (
    ChunkingStrategy,
    FileCounts,
    StoreList,
    VectorStore,
    VectorStoreCreate,
    VectorStoreDeleted,
    VectorStoreUpdate,
)
from shared.knowledge.store_files import StoreFiles
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.workspaces.ownership import check_readable
from shared.workspaces.service import WorkspaceService

log = logging.getLogger("knowledge")
MAX_LIST = 100


class StoreNotFound(NotFound):
    code = "vector_store_not_found"

    def __init__(self) -> None:
        super().__init__("No such vector store (or not yours): list yours with GET /v1/vector_stores.")


def owner_principal(doc: dict[str, Any]) -> Principal:
    """The store's creator, as whom the sweep stops the ingestions they started."""
    user_id, workspace_id = str(doc["user_id"]), doc.get("workspace_id")
    wallet = workspace_wallet_base(str(workspace_id)) if workspace_id else user_id
    return Principal(user_id=user_id, wallet_id=wallet, auth="jwt", workspace_id=workspace_id)


class VectorStoreService:
    def __init__(
        self,
        repo: KnowledgeRepository,
        files: StoreFiles,
        workspaces: WorkspaceService,
        catalog: EmbeddingCatalog,
        model: str | None,
        max_stores: int,
    ) -> None:
        self.repo = repo
        self.files = files
        self._workspaces = workspaces
        self._catalog = catalog
        self._model = model or catalog.default_model or ""
        self._max_stores = max_stores

    def chunking(self, strategy: ChunkingStrategy | None, default: dict[str, int] | None) -> Chunking:
        """The chunking of a file: the one asked for, else the store's, else auto for the model."""
        model = self._catalog.model(self._model)
        if strategy is None and default is not None:
            return Chunking(int(default["size"]), int(default["overlap"]))
        if strategy is None or strategy.static is None:
            return auto_chunking(model.max_input_tokens)
        chunking = Chunking(strategy.static.max_chunk_size_tokens, strategy.static.chunk_overlap_tokens)
        if chunking.size > model.max_input_tokens:
            raise BadRequest(
                f"max_chunk_size_tokens must be at most {model.max_input_tokens}, what the embedding model "
                f"{model.id} reads in one input.",
                code="chunk_size_too_large",
            )
        return chunking

    async def create(self, principal: Principal, body: VectorStoreCreate) -> VectorStore:
        owner, _ = owner_of(principal)
        model = self._catalog.model(self._model)
        chunking = self.chunking(body.chunking_strategy, None)
        files = [await self.files.readable_file(principal, owner, f) for f in dict.fromkeys(body.file_ids)]
        mine = self.repo.db.collection(STORES).where(filter=FieldFilter("owner", "==", owner))
        count = await mine.count().get()
        if int(count[0][0].value) >= self._max_stores:
            raise Conflict(
                f"You already have {self._max_stores} vector stores, the most you may keep; delete one.",
                code="too_many_vector_stores",
            )
        at = int(now().timestamp())
        store_id = f"vs_{new_id()}"
        doc: dict[str, Any] = {
            "owner": owner,
            "user_id": principal.user_id,
            "workspace_id": principal.workspace_id,
            "name": body.name or "",
            "description": body.description,
            "metadata": body.metadata,
            "model": model.id,
            "chunking": {"size": chunking.size, "overlap": chunking.overlap}
            if body.chunking_strategy
            else None,
            "expires_after": body.expires_after.model_dump() if body.expires_after else None,
            "created_at": at,
            "last_active_at": at,
            "version": 0,
            "charged_through": "",  # the last UTC day its storage was charged (storage_charge.py)
        }
        doc["expire_at"] = expire_at_of(doc)
        await self.repo.store(store_id).create(doc)
        try:
            for file_id, file_doc in files:
                await self.files.start(principal, store_id, doc, file_id, file_doc, None, chunking)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._remove(principal, store_id)
            raise
        log.info("vector store created", extra={"store_id": store_id, "files": len(files)})
        return await self.view(store_id, doc)

    async def readable(self, principal: Principal, store_id: str) -> dict[str, Any]:
        snap = await self.repo.store(store_id).get()
        doc: dict[str, Any] | None = snap.to_dict() if snap.exists else None
        if doc is None:
            raise StoreNotFound()
        await check_readable(self._workspaces, principal, doc, StoreNotFound)
        return doc

    async def editable(self, principal: Principal, store_id: str) -> dict[str, Any]:
        doc = await self.readable(principal, store_id)
        if doc.get("workspace_id") and doc.get("user_id") != principal.user_id:
            await self._workspaces.membership(principal.user_id, str(doc["workspace_id"]), "admin")
        return doc

    async def get(self, principal: Principal, store_id: str) -> VectorStore:
        return await self.view(store_id, await self.readable(principal, store_id))

    async def list_for(self, principal: Principal, limit: int, order: str, after: str | None) -> StoreList:
        owner, _ = owner_of(principal)
        query = self.repo.db.collection(STORES).where(filter=FieldFilter("owner", "==", owner))
        direction = firestore.Query.ASCENDING if order == "asc" else firestore.Query.DESCENDING
        query = query.order_by("created_at", direction=direction)
        if after:
            known = after.startswith("vs_") and len(after) < 64
            cursor = await self.repo.store(after).get() if known else None
            if cursor is None or not cursor.exists or (cursor.to_dict() or {}).get("owner") != owner:
                raise BadRequest("`after` must be the id of one of the listed stores.", code="invalid_cursor")
            query = query.start_after(cursor)
        found = [(s.id, s.to_dict() or {}) async for s in query.limit(limit + 1).stream()]
        page = [await self.view(i, d) for i, d in found[:limit]]
        return StoreList(
            data=page,
            has_more=len(found) > limit,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
        )

    async def update(self, principal: Principal, store_id: str, body: VectorStoreUpdate) -> VectorStore:
        doc = await self.editable(principal, store_id)
        changes: dict[str, Any] = {"last_active_at": int(now().timestamp())}
        if body.name is not None:
            changes["name"] = body.name
        if body.metadata is not None:
            changes["metadata"] = body.metadata
        if "expires_after" in body.model_fields_set:
            changes["expires_after"] = body.expires_after.model_dump() if body.expires_after else None
        changes["expire_at"] = expire_at_of(doc | changes)
        await self.repo.store(store_id).update(changes)
        return await self.get(principal, store_id)

    async def delete(self, principal: Principal, store_id: str) -> VectorStoreDeleted:
        await self.editable(principal, store_id)
        await self._remove(principal, store_id)
        log.info("vector store deleted", extra={"store_id": store_id})
        return VectorStoreDeleted(id=store_id)

    async def remove_store(self, principal: Principal, store_id: str) -> None:
        """Delete a store as the sweeps do (no access check): `principal` is its owner."""
        await self._remove(principal, store_id)

    async def _remove(self, principal: Principal, store_id: str) -> None:
        """The store leaves search first (its document), then its chunks and files' entries."""
        await self.repo.store(store_id).delete()
        await self.repo.delete_chunks("store_id", store_id)
        for file_id, entry in await self.repo.store_files(store_id):
            await self.files.stop(principal, entry)
            await self.repo.store_file(store_id, file_id).delete()
        await self.repo.delete_chunks("store_id", store_id)  # any an ingestion wrote meanwhile
        await self.repo.drop_keyword_indexes(store_id)

    async def delete_expired(self, limit: int) -> int:
        """The reconciler's sweep: stores past their `expires_after` are deleted through the same path as
        DELETE (the store, its chunks, its files' entries). `expire_at` is kept where the store's activity
        is recorded; activity that moved `last_active_at` without it (an ingestion finishing) only makes a
        store due early, and then it is put right here instead of deleted."""
        query = self.repo.db.collection(STORES).where(filter=FieldFilter("expire_at", "<=", now()))
        deleted = 0
        async for snap in query.limit(limit).stream():
            doc = snap.to_dict() or {}
            due = expire_at_of(doc)
            if due is None or due > now():
                await snap.reference.update({"expire_at": due})
                continue
            await self._remove(owner_principal(doc), snap.id)
            log.info("vector store expired", extra={"store_id": snap.id})
            deleted += 1
        return deleted

    async def view(self, store_id: str, doc: dict[str, Any]) -> VectorStore:
        counts = FileCounts()
        usage = 0
        for _, entry in await self.repo.store_files(store_id):
            state = (await self.files.status(entry))[0]
            setattr(counts, state, getattr(counts, state) + 1)
            counts.total += 1
            usage += int(entry.get("usage_bytes") or 0)
        expires = doc.get("expires_after")
        last_active = int(doc.get("last_active_at") or doc["created_at"])
        expires_at = last_active + int(expires["days"]) * DAY_S if expires else None
        status: Literal["expired", "in_progress", "completed"] = (
            "in_progress" if counts.in_progress else "completed"
        )
        if expires_at is not None and expires_at <= now().timestamp():
            status = "expired"
        return VectorStore(
            id=store_id,
            created_at=int(doc["created_at"]),
            name=str(doc.get("name") or ""),
            usage_bytes=usage,
            file_counts=counts,
            status=status,
            expires_after=expires,
            expires_at=expires_at,
            last_active_at=last_active,
            metadata=doc.get("metadata"),
            workspace_id=doc.get("workspace_id"),
        )
