"""Retrieval quality of a vector store's search, with the real local embedding model (all-MiniLM-L6-v2):
recall@5 and MRR of vector search only, keyword (BM25) only and hybrid (both, fused by RRF), over the
benchmark of tests/support/retrieval_set.py. The store is written straight into the Firestore emulator
(one chunk per passage, embedded by the model) and searched by the real Searcher
(shared/knowledge/search.py); only the query's embedding skips the metered service. The table is printed
(`pytest -s`) and copied into README.md."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from google.cloud import firestore

from shared.catalog.embeddings import EmbeddingModel
from shared.gateway.embeddings import EmbeddingCaller
from shared.knowledge.chunking import count_tokens
from shared.knowledge.repository import KnowledgeRepository
from shared.knowledge.schemas import FileCounts, SearchRequest, VectorStore
from shared.knowledge.search import Searcher
from tests.support.retrieval_set import PASSAGES, QUERIES

pytestmark = pytest.mark.model
MODES = ("vector", "keyword", "hybrid")


def local_model() -> EmbeddingModel:
    url = os.environ.get("LOCAL_EMBEDDING_URL")
    if not url:
        pytest.fail("LOCAL_EMBEDDING_URL is not set: `make test` starts the local embedding model.")
    return EmbeddingModel(
        "all-minilm-l6-v2",
        "local_embedding",
        "openai/all-minilm-l6-v2",
        1000,
        256,
        32,
        384,
        False,
        True,
        api_base=url,
        api_key="no-key",
    )


class QueryEmbeddings:
    """What Searcher asks of the embeddings service, answered by the local model directly."""

    def __init__(self, model: EmbeddingModel) -> None:
        self.model = model

    async def create(self, principal: Any, request_id: str, body: Any) -> Any:
        embedded = await EmbeddingCaller().embed(self.model, [body.input], None, None)
        return SimpleNamespace(data=[SimpleNamespace(embedding=embedded.vectors[0])])


async def measure() -> dict[str, tuple[float, float]]:
    model = local_model()
    db = firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    repo = KnowledgeRepository(db)
    store_id = f"vs_{uuid.uuid4().hex}"
    ids = list(PASSAGES)
    vectors: list[list[float]] = []
    for start in range(0, len(ids), model.max_inputs):
        batch = [PASSAGES[i] for i in ids[start : start + model.max_inputs]]
        vectors += (await EmbeddingCaller().embed(model, batch, None, None)).vectors
    await repo.store(store_id).set({"model": model.id, "version": 0, "created_at": 0})
    for pid, vector in zip(ids, vectors, strict=True):
        file_id = f"file-{pid}"
        text = PASSAGES[pid]
        await repo.write_chunks(store_id, file_id, [(text, count_tokens(text))], [vector])
        await repo.store_file(store_id, file_id).set(
            {"file_id": file_id, "filename": pid, "status": "completed"}
        )
    view = VectorStore(
        id=store_id,
        created_at=0,
        name="",
        usage_bytes=0,
        status="completed",
        file_counts=FileCounts(completed=len(ids), total=len(ids)),
    )
    searcher = Searcher(repo, None, QueryEmbeddings(model))  # type: ignore[arg-type]
    results: dict[str, tuple[float, float]] = {}
    for mode in MODES:
        hits, reciprocal = 0, 0.0
        for query, relevant in QUERIES:
            body = SearchRequest(query=query, max_num_results=5)
            page = await searcher.search(None, "q", store_id, {"model": model.id}, view, body, mode)  # type: ignore[arg-type]
            ranked = [hit.filename for hit in page.data]
            if relevant in ranked:
                hits += 1
                reciprocal += 1 / (ranked.index(relevant) + 1)
        results[mode] = (hits / len(QUERIES), reciprocal / len(QUERIES))
    await repo.delete_chunks("store_id", store_id)
    await db.recursive_delete(repo.store(store_id))
    return results


def test_hybrid_search_is_at_least_as_good_as_either_alone() -> None:
    results = asyncio.run(measure())
    table = "\n| search | recall@5 | MRR@5 |\n|---|---|---|\n"
    table += "".join(f"| {m} | {results[m][0]:.3f} | {results[m][1]:.3f} |\n" for m in MODES)
    sys.stderr.write(table)
    vector, keyword, hybrid = (results[m] for m in MODES)
    assert hybrid[0] >= max(vector[0], keyword[0]) - 0.05
    assert hybrid[1] >= min(vector[1], keyword[1])
    assert hybrid[0] >= 0.8
