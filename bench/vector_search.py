"""Vector store search latency over a store of many chunks, on the Firestore emulator.

    python -m scripts.devstack exec -- .venv/bin/python -m bench.vector_search [--chunks 10000] [--queries 50]

Writes `--chunks` chunks (random unit vectors of 384 numbers, as all-MiniLM-L6-v2 makes, and texts of 60
words drawn from a 5,000-word vocabulary) into one store, then times the real Searcher
(shared/knowledge/search.py) per mode: vector (find_nearest, prefiltered to the store), keyword (BM25 over
the store's chunks, its index warm after the first query) and hybrid. The keyword index's cold load (the
first search of a store on a fresh instance) is timed apart, both ways: built from the chunks in Firestore,
and from the object the ingestion job saves in the bucket (shared/knowledge/keyword_index.py; the Storage
emulator), with the ratio.
The query's embedding is a random vector handed over in-process: the embedding call is not timed. p50 and
p99 in milliseconds. The emulator searches by brute force; Firestore's vector index is another machine,
so these numbers bound our side (reads, BM25, fusion) more than the cloud's."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import time
import uuid
from types import SimpleNamespace
from typing import Any

from google.cloud import firestore

from bench.stats import percentile
from shared.adapters.storage import GcsStore
from shared.knowledge import keyword_index
from shared.knowledge.keyword_index import KeywordIndexes
from shared.knowledge.repository import KnowledgeRepository
from shared.knowledge.schemas import FileCounts, SearchRequest, VectorStore
from shared.knowledge.search import Searcher
from shared.settings import get_settings

DIMS = 384
FILES = 20


def unit(rng: random.Random) -> list[float]:
    raw = [rng.gauss(0, 1) for _ in range(DIMS)]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


class RandomQueries:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    async def create(self, principal: Any, request_id: str, body: Any) -> Any:
        return SimpleNamespace(data=[SimpleNamespace(embedding=unit(self.rng))])


async def run(chunks: int, queries: int) -> None:
    rng = random.Random(7)
    vocabulary = [f"w{n}" for n in range(5000)]
    db = firestore.AsyncClient(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-bench"))
    repo = KnowledgeRepository(db, GcsStore(get_settings()))
    store_id = f"vs_{uuid.uuid4().hex}"
    await repo.store(store_id).set({"model": "all-minilm-l6-v2", "version": 0, "created_at": 0})
    started = time.perf_counter()
    per_file = chunks // FILES
    for f in range(FILES):
        file_id = f"file-{f:032d}"
        texts = [(" ".join(rng.choices(vocabulary, k=60)), 60) for _ in range(per_file)]
        await repo.write_chunks(store_id, file_id, texts, [unit(rng) for _ in texts])
        await repo.store_file(store_id, file_id).set(
            {"file_id": file_id, "filename": f"{f}.txt", "status": "completed"}
        )
    print(f"wrote {per_file * FILES} chunks in {time.perf_counter() - started:.1f} s")
    view = VectorStore(
        id=store_id,
        created_at=0,
        name="",
        usage_bytes=0,
        status="completed",
        file_counts=FileCounts(completed=FILES, total=FILES),
    )
    searcher = Searcher(repo, None, RandomQueries(rng))  # type: ignore[arg-type]
    store = {"model": "all-minilm-l6-v2", "version": 0}
    for source in ("Firestore", "the bucket"):
        keyword_index._cache.clear()
        if source == "Firestore":
            await repo.drop_keyword_indexes(store_id)
        else:
            await KeywordIndexes(repo).save(store_id)  # as the ingestion job does
        cold = time.perf_counter()
        await searcher.search(None, "b", store_id, store, view, SearchRequest(query="w1 w2 w3"), "keyword")  # type: ignore[arg-type]
        took = (time.perf_counter() - cold) * 1000
        print(f"keyword index, cold, from {source}: {took:.0f} ms")
        if source == "Firestore":
            from_firestore = took
    print(f"cold load from the bucket / from Firestore: {took / from_firestore:.2f}")
    for mode in ("vector", "keyword", "hybrid"):
        times = []
        for _ in range(queries):
            body = SearchRequest(query=" ".join(rng.choices(vocabulary, k=4)), max_num_results=10)
            t0 = time.perf_counter()
            await searcher.search(None, "b", store_id, store, view, body, mode)  # type: ignore[arg-type]
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(
            f"{mode:8s} p50 {percentile(times, 50):7.1f} ms   p99 {percentile(times, 99):7.1f} ms"
            f"   ({queries} queries)"
        )
    await repo.delete_chunks("store_id", store_id)
    await repo.drop_keyword_indexes(store_id)
    await db.recursive_delete(repo.store(store_id))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.chunks, args.queries))


if __name__ == "__main__":
    main()
