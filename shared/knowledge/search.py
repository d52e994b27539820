"""Searching a vector store: vector search and BM25 keyword search, fused by reciprocal rank fusion.

1. The store must be the caller's (404) and ready: expired is 409 `vector_store_expired`; files still
   being indexed and none finished is 409 `vector_store_not_ready` (nothing charged; retry when the
   store's status is `completed`). Filters are checked before anything is charged (400 `invalid_filter`).
2. The query is embedded through POST /v1/embeddings' service, with the store's model: charged and
   recorded like any embedding call (feature `embeddings`).
3. Vector: Firestore `find_nearest` (cosine) over the chunks prefiltered to the store, VECTOR_CANDIDATES
   nearest (FILTERED_CANDIDATES when filters or unfinished files will drop some). Keyword: BM25
   (bm25.py) over the store's chunk texts, loaded once per store and version (keyword_index.py: from
   this instance's memory, the object the ingestion job saved in the bucket, or Firestore), the
   KEYWORD_CANDIDATES best.
4. Only chunks of the store's `completed` files whose attributes pass `filters` count. The two rankings
   are fused (bm25.rrf); `score` is the fused score scaled to 0..1 (1: first in both rankings, 0.5:
   first in one only), `ranking_options.score_threshold` drops what scores below it. `mode` (ours)
   searches with one ranking only: `vector` or `keyword`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.base_vector_query import DistanceMeasure
from google.cloud.firestore_v1.vector import Vector

from shared.auth.schemas import Principal
from shared.clock import now
from shared.embeddings.schemas import EmbeddingRequest
from shared.embeddings.service import EmbeddingService
from shared.errors import Conflict
from shared.knowledge.bm25 import rrf
from shared.knowledge.filters import check_filter, matches
from shared.knowledge.keyword_index import KeywordIndexes
from shared.knowledge.repository import CHUNKS, KnowledgeRepository, expire_at_of
from shared.knowledge.rewrite import rewrite
from shared.knowledge.schemas import SearchContent, SearchHit, SearchPage, SearchRequest, VectorStore
from shared.knowledge.store_files import StoreFiles

log = logging.getLogger("knowledge.search")
VECTOR_CANDIDATES = 50
FILTERED_CANDIDATES = 200  # with filters, or files not usable yet: more of the nearest are dropped
KEYWORD_CANDIDATES = 50
TOUCH_EVERY_S = 60


# A query's vector by the store's model, for a caller that meters it itself (a chat call's retrieval).
Embed = Callable[[Principal, str, str], Awaitable[list[float]]]


class Searcher:
    def __init__(
        self,
        repo: KnowledgeRepository,
        files: StoreFiles,
        embeddings: EmbeddingService,
        embed: Embed | None = None,
    ) -> None:
        self._repo = repo
        self._files = files
        self._embeddings = embeddings
        self._embed = embed  # None: the query is an embedding call of its own (POST .../search)

    async def search(
        self,
        principal: Principal,
        request_id: str,
        store_id: str,
        store: dict[str, Any],
        view: VectorStore,
        body: SearchRequest,
        mode: str = "hybrid",
    ) -> SearchPage:
        if body.filters is not None:
            check_filter(body.filters)
        if view.status == "expired":
            raise Conflict(
                "The vector store expired; it can no longer be searched.", code="vector_store_expired"
            )
        counts = view.file_counts
        if counts.in_progress and not counts.completed:
            raise Conflict(
                f"{counts.in_progress} file(s) of the vector store are still being indexed and none is "
                "finished; retry when its status is `completed`. Nothing was charged.",
                code="vector_store_not_ready",
            )
        files = await self._usable_files(store_id, body.filters)
        query = rewrite(body.text()) if body.rewrite_query else body.text()
        if not files:
            return SearchPage(search_query=[query], data=[])
        rankings: list[list[str]] = []
        texts: dict[str, tuple[str, str]] = {}
        if mode in ("hybrid", "vector"):
            wide = body.filters is not None or len(files) < view.file_counts.total
            limit = FILTERED_CANDIDATES if wide else VECTOR_CANDIDATES
            rankings.append(
                await self._vector(principal, request_id, store_id, store, query, files, texts, limit)
            )
        if mode in ("hybrid", "keyword"):
            version = int(store.get("version") or 0)
            rankings.append(await self._keywords(store_id, version, query, files, texts))
        threshold = body.ranking_options.score_threshold if body.ranking_options else 0.0
        hits: list[SearchHit] = []
        for chunk, score in rrf(rankings):
            if score < threshold or len(hits) >= body.max_num_results:
                break
            file_id, text = texts[chunk]
            entry = files[file_id]
            hits.append(
                SearchHit(
                    file_id=file_id,
                    filename=str(entry.get("filename") or ""),
                    score=round(score, 6),
                    attributes=entry.get("attributes"),
                    content=[SearchContent(text=text)],
                )
            )
        await self._touch(store_id, store)
        log.info("vector store searched", extra={"store_id": store_id, "mode": mode, "hits": len(hits)})
        return SearchPage(search_query=[query], data=hits)

    async def _touch(self, store_id: str, store: dict[str, Any]) -> None:
        """Keep `last_active_at` (what `expires_after` counts from) to the minute: one write a minute at
        most, whatever the search rate (a document takes about one write a second), and never a failed
        search for it."""
        at = int(now().timestamp())
        if at - int(store.get("last_active_at") or 0) < TOUCH_EVERY_S:
            return
        try:
            moved = store | {"last_active_at": at}
            await self._repo.store(store_id).update({"last_active_at": at, "expire_at": expire_at_of(moved)})
        except Exception:
            log.warning("vector store activity not recorded", extra={"store_id": store_id}, exc_info=True)

    async def _usable_files(self, store_id: str, filters: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        usable = {}
        for file_id, entry in await self._repo.store_files(store_id):
            if entry.get("status") != "completed":
                continue
            if filters is None or matches(filters, entry.get("attributes") or {}):
                usable[file_id] = entry
        return usable

    async def _vector(
        self,
        principal: Principal,
        request_id: str,
        store_id: str,
        store: dict[str, Any],
        query: str,
        files: dict[str, dict[str, Any]],
        texts: dict[str, tuple[str, str]],
        limit: int,
    ) -> list[str]:
        if self._embed is not None:
            vector = await self._embed(principal, str(store["model"]), query)
        else:
            embedded = await self._embeddings.create(
                principal, request_id, EmbeddingRequest(model=str(store["model"]), input=query)
            )
            vector = embedded.data[0].embedding  # type: ignore[assignment]
        assert isinstance(vector, list)
        nearest = (
            self._repo.db.collection(CHUNKS)
            .where(filter=FieldFilter("store_id", "==", store_id))
            .find_nearest(
                vector_field="embedding",
                query_vector=Vector(vector),
                distance_measure=DistanceMeasure.COSINE,
                limit=limit,
            )
        )
        ranking = []
        async for snap in nearest.stream():
            file_id = str(snap.get("file_id"))
            if file_id in files:
                texts[snap.id] = (file_id, str(snap.get("text")))
                ranking.append(snap.id)
        return ranking

    async def _keywords(
        self,
        store_id: str,
        version: int,
        query: str,
        files: dict[str, dict[str, Any]],
        texts: dict[str, tuple[str, str]],
    ) -> list[str]:
        index, chunks = await KeywordIndexes(self._repo).load(store_id, version)
        ranking = []
        for position, _ in index.top(query, KEYWORD_CANDIDATES * 4):
            chunk_id, file_id, text = chunks[position]
            if file_id in files:
                texts[chunk_id] = (file_id, text)
                ranking.append(chunk_id)
            if len(ranking) >= KEYWORD_CANDIDATES:
                break
        return ranking
