"""Vector stores, in OpenAI's shape (the official SDK's `client.vector_stores` works unchanged): create,
list, read, update, delete; add, list, read and remove their files; search. With X-Workspace-ID a store
belongs to the workspace. Someone else's store is a 404 (shared/knowledge/)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from run_services.api.deps import (
    CurrentPrincipal,
    FileBatchId,
    RateLimitDep,
    ServicesDep,
    Spender,
    StoreFileId,
    VectorStoreId,
    request_id,
)
from shared.bootstrap import Services
from shared.bootstrap.knowledge import build_vector_stores
from shared.catalog.embeddings import EmbeddingCatalog
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
from shared.knowledge.service import MAX_LIST, VectorStoreService

router = APIRouter(prefix="/v1/vector_stores", tags=["vector_stores"])
Order = Annotated[Literal["asc", "desc"], Query()]
Limit = Annotated[int, Query(ge=1, le=MAX_LIST)]
After = Annotated[str | None, Query(max_length=64)]


def service(services: Services) -> VectorStoreService:
    catalog: EmbeddingCatalog = services.embeddings.catalog
    return build_vector_stores(
        services.db, services.jobs, services.workspaces.service, catalog, services.settings
    )


@router.post("")
async def create_store(body: VectorStoreCreate, principal: Spender, services: ServicesDep) -> VectorStore:
    """A store, and an ingestion job per file of `file_ids` (each paid for its embedding tokens)."""
    await services.rate_limits.check_request(principal)
    return await service(services).create(principal, body)


@router.get("")
async def list_stores(
    principal: Spender, services: ServicesDep, limit: Limit = 20, order: Order = "desc", after: After = None
) -> StoreList:
    return await service(services).list_for(principal, limit, order, after)


@router.get("/{vector_store_id}")
async def get_store(
    vector_store_id: VectorStoreId, principal: CurrentPrincipal, services: ServicesDep
) -> VectorStore:
    return await service(services).get(principal, vector_store_id)


@router.post("/{vector_store_id}")
async def update_store(
    vector_store_id: VectorStoreId,
    body: VectorStoreUpdate,
    principal: CurrentPrincipal,
    services: ServicesDep,
) -> VectorStore:
    await services.rate_limits.check_request(principal)
    return await service(services).update(principal, vector_store_id, body)


@router.delete("/{vector_store_id}")
async def delete_store(
    vector_store_id: VectorStoreId, principal: CurrentPrincipal, services: ServicesDep
) -> VectorStoreDeleted:
    """The store and its chunks; its files stay in /v1/files."""
    await services.rate_limits.check_request(principal)
    return await service(services).delete(principal, vector_store_id)


@router.post("/{vector_store_id}/files")
async def add_file(
    vector_store_id: VectorStoreId, body: StoreFileCreate, principal: Spender, services: ServicesDep
) -> StoreFile:
    """Index one of your files into the store (an ingestion job: it is `in_progress` until done)."""
    await services.rate_limits.check_request(principal)
    stores = service(services)
    store = await stores.readable(principal, vector_store_id)
    chunking = stores.chunking(body.chunking_strategy, store.get("chunking"))
    return await stores.files.add(principal, vector_store_id, store, body.file_id, body.attributes, chunking)


@router.get("/{vector_store_id}/files")
async def list_files(
    vector_store_id: VectorStoreId,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Limit = 20,
    order: Order = "desc",
    after: After = None,
    filter: Annotated[Literal["in_progress", "completed", "failed", "cancelled"] | None, Query()] = None,
) -> StoreFileList:
    stores = service(services)
    await stores.readable(principal, vector_store_id)
    return await stores.files.list_for(vector_store_id, limit, order, after, filter)


@router.get("/{vector_store_id}/files/{file_id}")
async def get_file(
    vector_store_id: VectorStoreId, file_id: StoreFileId, principal: CurrentPrincipal, services: ServicesDep
) -> StoreFile:
    stores = service(services)
    await stores.readable(principal, vector_store_id)
    return await stores.files.get(vector_store_id, file_id)


@router.delete("/{vector_store_id}/files/{file_id}")
async def remove_file(
    vector_store_id: VectorStoreId, file_id: StoreFileId, principal: CurrentPrincipal, services: ServicesDep
) -> StoreFileDeleted:
    """Out of the store's search at once; the file itself stays in /v1/files."""
    await services.rate_limits.check_request(principal)
    stores = service(services)
    await stores.readable(principal, vector_store_id)
    return await stores.files.remove(principal, vector_store_id, file_id)


@router.post("/{vector_store_id}/search")
async def search_store(
    vector_store_id: VectorStoreId,
    body: SearchRequest,
    request: Request,
    principal: Spender,
    services: ServicesDep,
    limits: RateLimitDep,
    mode: Annotated[Literal["hybrid", "vector", "keyword"], Query()] = "hybrid",
) -> SearchPage:
    """Hybrid search (vectors and BM25, fused); the query's embedding is charged like POST /v1/embeddings.
    `mode` (ours) searches with one of the two only."""
    stores = service(services)
    store = await stores.readable(principal, vector_store_id)
    view = await stores.view(vector_store_id, store)
    searcher = Searcher(stores.repo, stores.files, services.embeddings)
    return await searcher.search(principal, request_id(request), vector_store_id, store, view, body, mode)


@router.post("/{vector_store_id}/file_batches")
async def create_batch(
    vector_store_id: VectorStoreId, body: FileBatchCreate, principal: Spender, services: ServicesDep
) -> FileBatch:
    """Add several files at once (`file_ids`, or `files` each with its own attributes and chunking)."""
    await services.rate_limits.check_request(principal)
    stores = service(services)
    store = await stores.readable(principal, vector_store_id)
    default = store.get("chunking")
    batches = FileBatches(stores.files)
    return await batches.create(
        principal, vector_store_id, store, body, lambda strategy: stores.chunking(strategy, default)
    )


@router.get("/{vector_store_id}/file_batches/{batch_id}")
async def get_batch(
    vector_store_id: VectorStoreId, batch_id: FileBatchId, principal: CurrentPrincipal, services: ServicesDep
) -> FileBatch:
    stores = service(services)
    await stores.readable(principal, vector_store_id)
    return await FileBatches(stores.files).get(vector_store_id, batch_id)


@router.post("/{vector_store_id}/file_batches/{batch_id}/cancel")
async def cancel_batch(
    vector_store_id: VectorStoreId, batch_id: FileBatchId, principal: CurrentPrincipal, services: ServicesDep
) -> FileBatch:
    """Stop the batch's files still being indexed (those you added; their unspent credits go back)."""
    await services.rate_limits.check_request(principal)
    stores = service(services)
    await stores.readable(principal, vector_store_id)
    return await FileBatches(stores.files).cancel(principal, vector_store_id, batch_id)


@router.get("/{vector_store_id}/file_batches/{batch_id}/files")
async def list_batch_files(
    vector_store_id: VectorStoreId,
    batch_id: FileBatchId,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Limit = 20,
    order: Order = "desc",
    after: After = None,
    filter: Annotated[Literal["in_progress", "completed", "failed", "cancelled"] | None, Query()] = None,
) -> StoreFileList:
    stores = service(services)
    await stores.readable(principal, vector_store_id)
    return await FileBatches(stores.files).files(vector_store_id, batch_id, limit, order, after, filter)
