"""Vector stores, in OpenAI's shape (the official SDK's `client.vector_stores` works unchanged): create,
list, read, update, delete; add, list, read and remove their files; search. With X-Workspace-ID a store
belongs to the workspace. Someone else's store is a 404 (shared/knowledge/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from run_services.api.deps import (
    CurrentPrincipal,
    FileBatchId,
    Paging,
    RateLimitDep,
    ServicesDep,
    Spender,
    StoreFileId,
    VectorStoreId,
    request_id,
)
from shared.knowledge.batches import FileBatches
from shared.knowledge.schemas import (
    FileBatch,
    FileBatchCreate,
    SearchPage,
    SearchRequest,
    StoreFile,
    StoreFileCreate,
    StoreFileDeleted,
    StoreFileList,
    StoreList,
    VectorStore,
    VectorStoreCreate,
    VectorStoreDeleted,
    VectorStoreUpdate,
)
from shared.knowledge.search import Searcher
from shared.knowledge.service import VectorStoreService
from shared.knowledge.store_files import StoreFiles

router = APIRouter(prefix="/v1/vector_stores", tags=["vector_stores"])


@dataclass(frozen=True)
class OpenStore:
    """A store the caller may read, opened for a route under `/{vector_store_id}`: someone else's is a 404."""

    service: VectorStoreService
    id: str
    doc: dict[str, Any]

    @property
    def files(self) -> StoreFiles:
        return self.service.files


async def open_store(
    vector_store_id: VectorStoreId, principal: CurrentPrincipal, services: ServicesDep
) -> OpenStore:
    stores = services.knowledge.stores
    return OpenStore(stores, vector_store_id, await stores.readable(principal, vector_store_id))


Readable = Annotated[OpenStore, Depends(open_store)]
FileState = Annotated[Literal["in_progress", "completed", "failed", "cancelled"] | None, Query()]


@router.post("")
async def create_store(body: VectorStoreCreate, principal: Spender, services: ServicesDep) -> VectorStore:
    """A store, and an ingestion job per file of `file_ids` (each paid for its embedding tokens)."""
    await services.rate_limits.check_request(principal)
    return await services.knowledge.stores.create(principal, body)


@router.get("")
async def list_stores(principal: Spender, services: ServicesDep, page: Paging) -> StoreList:
    return await services.knowledge.stores.list_for(principal, page.limit, page.order, page.after)


@router.get("/{vector_store_id}")
async def get_store(store: Readable) -> VectorStore:
    return await store.service.view(store.id, store.doc)


@router.post("/{vector_store_id}")
async def update_store(
    vector_store_id: VectorStoreId,
    body: VectorStoreUpdate,
    principal: CurrentPrincipal,
    services: ServicesDep,
) -> VectorStore:
    await services.rate_limits.check_request(principal)
    return await services.knowledge.stores.update(principal, vector_store_id, body)


@router.delete("/{vector_store_id}")
async def delete_store(
    vector_store_id: VectorStoreId, principal: CurrentPrincipal, services: ServicesDep
) -> VectorStoreDeleted:
    """The store and its chunks; its files stay in /v1/files."""
    await services.rate_limits.check_request(principal)
    return await services.knowledge.stores.delete(principal, vector_store_id)


@router.post("/{vector_store_id}/files")
async def add_file(
    store: Readable, body: StoreFileCreate, principal: Spender, services: ServicesDep
) -> StoreFile:
    """Index one of your files into the store (an ingestion job: it is `in_progress` until done)."""
    await services.rate_limits.check_request(principal)
    chunking = store.service.chunking(body.chunking_strategy, store.doc.get("chunking"))
    return await store.files.add(principal, store.id, store.doc, body.file_id, body.attributes, chunking)


@router.get("/{vector_store_id}/files")
async def list_files(store: Readable, page: Paging, filter: FileState = None) -> StoreFileList:
    return await store.files.list_for(store.id, page.limit, page.order, page.after, filter)


@router.get("/{vector_store_id}/files/{file_id}")
async def get_file(store: Readable, file_id: StoreFileId) -> StoreFile:
    return await store.files.get(store.id, file_id)


@router.delete("/{vector_store_id}/files/{file_id}")
async def remove_file(
    store: Readable, file_id: StoreFileId, principal: CurrentPrincipal, services: ServicesDep
) -> StoreFileDeleted:
    """Out of the store's search at once; the file itself stays in /v1/files."""
    await services.rate_limits.check_request(principal)
    return await store.files.remove(principal, store.id, file_id)


@router.post("/{vector_store_id}/search")
async def search_store(
    store: Readable,
    body: SearchRequest,
    request: Request,
    principal: Spender,
    services: ServicesDep,
    limits: RateLimitDep,
    mode: Annotated[Literal["hybrid", "vector", "keyword"], Query()] = "hybrid",
) -> SearchPage:
    """Hybrid search (vectors and BM25, fused); the query's embedding is charged like POST /v1/embeddings.
    `mode` (ours) searches with one of the two only."""
    view = await store.service.view(store.id, store.doc)
    searcher = Searcher(store.service.repo, store.files, services.embeddings)
    return await searcher.search(principal, request_id(request), store.id, store.doc, view, body, mode)


@router.post("/{vector_store_id}/file_batches")
async def create_batch(
    store: Readable, body: FileBatchCreate, principal: Spender, services: ServicesDep
) -> FileBatch:
    """Add several files at once (`file_ids`, or `files` each with its own attributes and chunking)."""
    await services.rate_limits.check_request(principal)
    default = store.doc.get("chunking")
    return await FileBatches(store.files).create(
        principal, store.id, store.doc, body, lambda strategy: store.service.chunking(strategy, default)
    )


@router.get("/{vector_store_id}/file_batches/{batch_id}")
async def get_batch(store: Readable, batch_id: FileBatchId) -> FileBatch:
    return await FileBatches(store.files).get(store.id, batch_id)


@router.post("/{vector_store_id}/file_batches/{batch_id}/cancel")
async def cancel_batch(
    store: Readable, batch_id: FileBatchId, principal: CurrentPrincipal, services: ServicesDep
) -> FileBatch:
    """Stop the batch's files still being indexed (those you added; their unspent credits go back)."""
    await services.rate_limits.check_request(principal)
    return await FileBatches(store.files).cancel(principal, store.id, batch_id)


@router.get("/{vector_store_id}/file_batches/{batch_id}/files")
async def list_batch_files(
    store: Readable, batch_id: FileBatchId, page: Paging, filter: FileState = None
) -> StoreFileList:
    return await FileBatches(store.files).files(
        store.id, batch_id, page.limit, page.order, page.after, filter
    )
