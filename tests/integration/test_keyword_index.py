"""A vector store's keyword index saved in the bucket (shared/knowledge/keyword_index.py), on the Firestore
and Storage emulators: the ingestion job saves it; a fresh instance loads it without reading the chunks;
any change to the store's chunks deletes what was saved; a save that raced a change keeps nothing; an
unreadable object falls back to Firestore."""

from __future__ import annotations

import asyncio
import uuid

from shared.adapters.firestore import async_client
from shared.adapters.storage import GcsStore
from shared.knowledge import keyword_index
from shared.knowledge.ingest_input import IngestInput
from shared.knowledge.keyword_index import KeywordIndexes, decode, object_path
from shared.knowledge.repository import KnowledgeRepository
from tests.integration.test_vector_stores_ingest import TEXT, Parts, job_for, spec_for
from tests.support.jobs import JobsStack

TEXTS = ["tides pull the sea twice a day", "bread rises with yeast and time", "orbits are ellipses"]


class CountingRepo(KnowledgeRepository):
    """Counts chunk reads; `on_read` runs just before the chunks are read (a concurrent change)."""

    def __init__(self, *args: object, on_read: object = None) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.reads = 0
        self.on_read = on_read

    async def chunk_texts(self, store_id: str) -> list[tuple[str, str, str]]:
        self.reads += 1
        if self.on_read is not None:
            await self.on_read()  # type: ignore[operator]
        return await super().chunk_texts(store_id)


async def new_store(repo: KnowledgeRepository) -> tuple[str, str]:
    store_id, file_id = f"vs_{uuid.uuid4().hex}", f"file-{uuid.uuid4().hex}"
    await repo.store(store_id).set({"version": 0})
    await repo.store_file(store_id, file_id).set({"file_id": file_id, "status": "completed"})
    chunks = [(text, 8) for text in TEXTS]
    await repo.write_chunks(store_id, file_id, chunks, [[1.0, 0.0, float(i)] for i in range(len(TEXTS))])
    return store_id, file_id


def test_the_ingestion_job_saves_the_index_and_a_fresh_instance_loads_it_without_reading_chunks(
    jobs_stack: JobsStack,
) -> None:
    first_spec = spec_for()
    second_spec = spec_for().model_copy(update={"store_id": first_spec.store_id})
    store_id = first_spec.store_id

    async def ingest(parts: Parts, spec: IngestInput) -> None:
        await parts.store.put_if_absent(spec.path, TEXT, "text/plain")
        await parts.repo.store_file(store_id, spec.file_id).set({"status": "in_progress"})
        await parts.db.collection("files").document(spec.file_id).set({"owner": "user_u"})
        first = await parts.ingest.run_step(job_for(spec), 0)
        job = job_for(spec, first.data)
        for step in range(1, int(first.data["batches"]) + 2):
            await parts.ingest.run_step(job, step)

    async def run() -> None:
        parts = Parts(jobs_stack.settings)
        store, db = parts.store, parts.db
        repo = CountingRepo(db, store)
        parts.repo = parts.ingest._repo = repo
        await repo.store(store_id).set({"version": 0})
        await ingest(parts, first_spec)
        assert await repo.version(store_id) == 1 and repo.reads == 1  # nothing saved before: all read
        await ingest(parts, second_spec)
        assert await repo.version(store_id) == 2 and repo.reads == 1  # v1's object + the file's chunks
        assert await store.read(object_path(store_id, 1)) is None  # the bump deleted the older one
        saved = await store.read(object_path(store_id, 2))
        assert saved is not None
        assert sorted(decode(saved)) == sorted(await repo.chunk_texts(store_id))
        assert {f for _, f, _ in decode(saved)} == {first_spec.file_id, second_spec.file_id}

        keyword_index._cache.clear()  # a fresh instance
        fresh = CountingRepo(db, store)
        index, chunks = await KeywordIndexes(fresh).load(store_id, 2)
        assert fresh.reads == 0
        best = index.top("tides orbits", 3)
        assert best and "tides" in chunks[best[0][0]][2]
        await store.delete_prefix(f"vector_stores/{store_id}/")

    asyncio.run(run())


def test_a_change_to_the_chunks_deletes_the_saved_index_and_the_next_load_reads_firestore(
    jobs_stack: JobsStack,
) -> None:
    async def run() -> None:
        store = GcsStore(jobs_stack.settings)
        repo = CountingRepo(async_client(jobs_stack.settings), store)
        store_id, file_id = await new_store(repo)
        assert await KeywordIndexes(repo).save(store_id)
        assert await store.read(object_path(store_id, 0)) is not None
        await repo.forget_file(file_id, 1)  # the file deleted: out of every store, and out of the bucket
        assert await repo.version(store_id) == 1
        assert await store.read(object_path(store_id, 0)) is None
        keyword_index._cache.clear()
        repo.reads = 0
        index, chunks = await KeywordIndexes(repo).load(store_id, 1)
        assert repo.reads == 1 and chunks == [] and index.top("tides", 3) == []
        assert decode(await store.read(object_path(store_id, 1)) or b"") == []  # saved for the next one
        await repo.drop_keyword_indexes(store_id)
        assert await store.read(object_path(store_id, 1)) is None

    asyncio.run(run())


def test_a_save_that_races_a_change_keeps_nothing(jobs_stack: JobsStack) -> None:
    async def run() -> None:
        store = GcsStore(jobs_stack.settings)
        repo = CountingRepo(async_client(jobs_stack.settings), store)
        store_id, _ = await new_store(repo)

        async def change() -> None:
            await repo.store(store_id).update({"version": 5})

        repo.on_read = change
        assert not await KeywordIndexes(repo).save(store_id)
        assert await store.read(object_path(store_id, 0)) is None
        assert await store.read(object_path(store_id, 5)) is None

    asyncio.run(run())


def test_an_unreadable_saved_index_falls_back_to_firestore(jobs_stack: JobsStack) -> None:
    async def run() -> None:
        store = GcsStore(jobs_stack.settings)
        repo = CountingRepo(async_client(jobs_stack.settings), store)
        store_id, _ = await new_store(repo)
        await store.put_if_absent(object_path(store_id, 0), b"not gzip", "application/json")
        keyword_index._cache.clear()
        index, chunks = await KeywordIndexes(repo).load(store_id, 0)
        assert repo.reads == 1 and len(chunks) == len(TEXTS)
        assert chunks[index.top("yeast", 1)[0][0]][2] == TEXTS[1]
        await repo.drop_keyword_indexes(store_id)

    asyncio.run(run())
