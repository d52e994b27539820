"""Where vector stores live in Firestore, and the only code that writes their chunks.

    vector_stores/{vs_id}                       owner, user_id, workspace_id, name, metadata, model,
                                                chunking, expires_after, created_at, last_active_at,
                                                expire_at (the sweep's key), version
    vector_stores/{vs_id}/store_files/{file_id} status, job_id, filename, type, bytes, attributes,
                                                chunking, chunks, usage_bytes, last_error, created_at
    chunks/{vs_id}_{file_id}_{n}                store_id, file_id, index, text, tokens, embedding (Vector)

Chunks are one top-level collection, so removing a file from every store is one query on `file_id`, and a
store's vector search is `find_nearest` prefiltered on `store_id` (the composite vector index of
terraform/modules/firestore). `version` grows whenever the store's searchable chunks change (a file
completed or removed): the keyword index (keyword_index.py) is rebuilt when it moves, and every bump
deletes the index objects saved in the bucket for the store's earlier versions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.vector import Vector

from shared.adapters.storage import BlobStore

STORES = "vector_stores"
STORE_FILES = "store_files"
CHUNKS = "chunks"
BATCH = 400  # deletes per batch (Firestore allows 500 writes)
# Chunks per batch: a commit carries at most 10 MiB, and a chunk of 4,096 tokens with 3,072 dimensions
# is about 40 kB.
WRITE_BATCH = 100


DAY_S = 86_400


def expire_at_of(doc: dict[str, Any]) -> dt.datetime | None:
    """When the store expires: `expires_after.days` after its last activity (None: never)."""
    expires = doc.get("expires_after")
    if not expires:
        return None
    last_active = int(doc.get("last_active_at") or doc["created_at"])
    return dt.datetime.fromtimestamp(last_active + int(expires["days"]) * DAY_S, dt.UTC)


def chunk_id(store_id: str, file_id: str, index: int) -> str:
    return f"{store_id}_{file_id}_{index}"


def keyword_prefix(store_id: str) -> str:
    """Where the store's saved keyword indexes are, in the jobs bucket (keyword_index.py)."""
    return f"{STORES}/{store_id}/keyword/"


class KnowledgeRepository:
    def __init__(self, db: firestore.AsyncClient, blobs: BlobStore | None = None) -> None:
        self.db = db
        self.blobs = blobs  # None: keyword indexes are not saved (tests and benchmarks that build them)

    def store(self, store_id: str) -> Any:
        return self.db.collection(STORES).document(store_id)

    def store_file(self, store_id: str, file_id: str) -> Any:
        return self.store(store_id).collection(STORE_FILES).document(file_id)

    async def store_files(self, store_id: str) -> list[tuple[str, dict[str, Any]]]:
        stream = self.store(store_id).collection(STORE_FILES).stream()
        return [(s.id, s.to_dict() or {}) async for s in stream]

    async def write_chunks(
        self, store_id: str, file_id: str, chunks: Sequence[tuple[str, int]], vectors: Sequence[list[float]]
    ) -> None:
        """Create or overwrite the file's chunks (fixed ids: a second delivery rewrites the same ones)."""
        for start in range(0, len(chunks), WRITE_BATCH):
            batch = self.db.batch()
            for index in range(start, min(start + WRITE_BATCH, len(chunks))):
                text, tokens = chunks[index]
                doc = {
                    "store_id": store_id,
                    "file_id": file_id,
                    "index": index,
                    "text": text,
                    "tokens": tokens,
                    "embedding": Vector(vectors[index]),
                }
                batch.set(self.db.collection(CHUNKS).document(chunk_id(store_id, file_id, index)), doc)
            await batch.commit()

    async def delete_chunks(self, field: str, value: str, also: tuple[str, str] | None = None) -> int:
        """Delete every chunk whose `field` is `value` (and `also[0]` is `also[1]`), in batches."""
        query = self.db.collection(CHUNKS).where(filter=FieldFilter(field, "==", value))
        if also is not None:
            query = query.where(filter=FieldFilter(also[0], "==", also[1]))
        deleted = 0
        while True:
            refs = [s.reference async for s in query.select([]).limit(BATCH).stream()]
            if not refs:
                return deleted
            batch = self.db.batch()
            for ref in refs:
                batch.delete(ref)
            await batch.commit()
            deleted += len(refs)

    async def bump(self, store_id: str, at: int) -> None:
        """The store's searchable chunks changed: its saved keyword indexes are stale."""
        await self.store(store_id).update({"version": firestore.Increment(1), "last_active_at": at})
        await self.drop_keyword_indexes(store_id)

    async def version(self, store_id: str) -> int | None:
        """The store's version (None: no such store)."""
        snap = await self.store(store_id).get(field_paths=["version"])
        return int((snap.to_dict() or {}).get("version") or 0) if snap.exists else None

    async def drop_keyword_indexes(self, store_id: str) -> None:
        if self.blobs is not None:
            await self.blobs.delete_prefix(keyword_prefix(store_id))

    async def chunk_texts(self, store_id: str) -> list[tuple[str, str, str]]:
        """Every chunk of the store as (chunk id, file id, text), for the keyword index."""
        query = self.db.collection(CHUNKS).where(filter=FieldFilter("store_id", "==", store_id))
        stream = query.select(["file_id", "text"]).stream()
        return [(s.id, str(s.get("file_id")), str(s.get("text"))) async for s in stream]

    async def forget_file(self, file_id: str, at: int) -> None:
        """A deleted file leaves every store: its chunks first (out of search at once), then its entries."""
        await self.delete_chunks("file_id", file_id)
        entries = self.db.collection_group(STORE_FILES).where(filter=FieldFilter("file_id", "==", file_id))
        async for entry in entries.stream():
            store_id = entry.reference.parent.parent.id
            await entry.reference.delete()
            await self.bump_if_exists(store_id, at)

    async def bump_if_exists(self, store_id: str, at: int) -> None:
        snap = await self.store(store_id).get()
        if snap.exists:
            await self.bump(store_id, at)
