"""A vector store's keyword (BM25) index, where a fresh instance can load it fast.

The index is built from the store's chunk texts. Reading 10,000 chunks from Firestore takes seconds, so
the texts are also saved, once per store version, as one gzipped JSON object in the jobs bucket:

    vector_stores/{vs_id}/keyword/v{version}.json.gz     [[chunk id, file id, text], ...]

The ingestion job saves it when a file's chunks become searchable: the object of the version before its
bump plus the file's own chunks when nothing else changed the store meanwhile (so indexing a store's
files one after the other does not read all its chunks again for each), else every chunk from Firestore.
A search looks in this instance's memory first, then in the bucket, then in Firestore. If it had to read
Firestore, it saves the object for the next instance.

Every bump of the version deletes the store's saved objects (`KnowledgeRepository.bump`), and so does
deleting the store. So a removed file's text does not outlive its chunks in the bucket either. A save
that finds the version moved while it read the chunks deletes what it wrote. Whatever an object holds,
a search only returns chunks of the files that are `completed` in the store at that moment
(search.py)."""

from __future__ import annotations

import gzip
import json
import logging
from collections import OrderedDict

from shared.knowledge.bm25 import Bm25
from shared.knowledge.repository import KnowledgeRepository, chunk_id, keyword_prefix

log = logging.getLogger("knowledge.keyword_index")
CACHE = 16  # indexes kept per instance (least recently used out)
JSON = "application/json"
Chunks = list[tuple[str, str, str]]  # (chunk id, file id, text)
_cache: OrderedDict[tuple[str, int], tuple[Bm25, Chunks]] = OrderedDict()


def object_path(store_id: str, version: int) -> str:
    return f"{keyword_prefix(store_id)}v{version}.json.gz"


def encode(chunks: Chunks) -> bytes:
    return gzip.compress(json.dumps([list(c) for c in chunks], ensure_ascii=False).encode(), 6)


def decode(data: bytes) -> Chunks:
    return [(str(c), str(f), str(t)) for c, f, t in json.loads(gzip.decompress(data))]


class KeywordIndexes:
    def __init__(self, repo: KnowledgeRepository) -> None:
        self._repo = repo

    async def load(self, store_id: str, version: int) -> tuple[Bm25, Chunks]:
        """The store's index at `version`: from memory, the bucket, or (then saved) Firestore."""
        key = (store_id, version)
        cached = _cache.get(key)
        if cached is None:
            chunks = await self._saved(store_id, version)
            if chunks is None:
                chunks = await self._repo.chunk_texts(store_id)
                await self._save(store_id, version, chunks)
            cached = (Bm25([text for _, _, text in chunks]), chunks)
            _cache[key] = cached
            while len(_cache) > CACHE:
                _cache.popitem(last=False)
        _cache.move_to_end(key)
        return cached

    async def save(self, store_id: str) -> bool:
        """Save the store's chunk texts, all read from Firestore, for its current version."""
        version = await self._repo.version(store_id)
        if version is None:
            return False
        return await self._save(store_id, version, await self._repo.chunk_texts(store_id))

    async def save_with_file(
        self, store_id: str, before: tuple[int, Chunks | None] | None, file_id: str, texts: list[str]
    ) -> bool:
        """The ingestion job, once its bump made the file's chunks searchable: `before` is the store's
        version before that bump and what was saved for it. If the bump is the only change since, the new
        index is that plus the file's chunks; else everything is read again."""
        version = await self._repo.version(store_id)
        if version is None:
            return False
        if before is None or before[1] is None or version != before[0] + 1:
            return await self.save(store_id)
        mine = [(chunk_id(store_id, file_id, n), file_id, text) for n, text in enumerate(texts)]
        return await self._save(store_id, version, [c for c in before[1] if c[1] != file_id] + mine)

    async def saved(self, store_id: str) -> tuple[int, Chunks | None] | None:
        """The store's version and what is saved for it (None: no such store)."""
        version = await self._repo.version(store_id)
        return None if version is None else (version, await self._saved(store_id, version))

    async def _saved(self, store_id: str, version: int) -> Chunks | None:
        blobs = self._repo.blobs
        if blobs is None:
            return None
        try:
            data = await blobs.read(object_path(store_id, version))
            return None if data is None else decode(data)
        except Exception:  # a damaged or unreadable object: Firestore is the truth
            log.warning("saved keyword index unreadable", extra={"store_id": store_id}, exc_info=True)
            return None

    async def _save(self, store_id: str, version: int, chunks: Chunks) -> bool:
        blobs = self._repo.blobs
        if blobs is None:
            return False
        path = object_path(store_id, version)
        try:
            written = await blobs.put_if_absent(path, encode(chunks), JSON)
            if await self._repo.version(store_id) != version:  # changed (or deleted) while we read
                await blobs.delete_prefix(keyword_prefix(store_id))
                return False
        except Exception:  # the index is a cache: a search goes on without it
            log.warning("keyword index not saved", extra={"store_id": store_id}, exc_info=True)
            return False
        log.info(
            "keyword index saved", extra={"store_id": store_id, "version": version, "chunks": len(chunks)}
        )
        return written
