"""The ingestion job's steps run directly (as two deliveries of one Cloud Task would), on the emulators and
the scripted embedding fake: a step delivered twice embeds once and costs the same, the last step run
twice writes the same chunks, a provider failing is a retryable step failure that embedded nothing, and a
text longer than the reservation allows fails before anything is embedded."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest

from shared.adapters.firestore import async_client
from shared.adapters.secrets import EnvSecrets
from shared.adapters.storage import GcsStore
from shared.catalog.catalog import Catalog
from shared.catalog.embeddings import EmbeddingCatalog, EmbeddingModel
from shared.gateway.embeddings import Embedded, EmbeddingCaller
from shared.jobs.errors import StepFailed
from shared.jobs.schemas import Job
from shared.knowledge.ingest import IngestJob, scratch_prefix
from shared.knowledge.ingest_input import IngestInput
from shared.knowledge.repository import KnowledgeRepository
from shared.settings import Settings
from tests.support.jobs import JobsStack
from tests.support.knowledge import chunks_where

TEXT = " ".join(f"sentence {i} speaks of tides, orbits and bread." for i in range(60)).encode()


class CountingCaller(EmbeddingCaller):
    def __init__(self) -> None:
        self.calls = 0

    async def embed(
        self, model: EmbeddingModel, inputs: list[str], dimensions: int | None, user: str | None
    ) -> Embedded:
        self.calls += 1
        return await super().embed(model, inputs, dimensions, user)


class Parts:
    """The job kind and what it works with, built inside the test's event loop (gRPC clients belong to
    the loop that made them)."""

    def __init__(self, settings: Settings) -> None:
        catalog = EmbeddingCatalog.load(settings, Catalog.load(settings, EnvSecrets({})))
        self.caller = CountingCaller()
        self.store = GcsStore(settings)
        self.db = async_client(settings)
        self.repo = KnowledgeRepository(self.db)
        self.ingest = IngestJob(catalog, self.caller, self.store, self.repo, 600)


def job_for(spec: IngestInput, data: dict[str, Any] | None = None) -> Job:
    now = dt.datetime.now(dt.UTC)
    return Job(
        id=uuid.uuid4().hex,
        type="vector_store_file",
        state="running",
        user_id="u",
        wallet_id="u",
        params=spec.model_dump(),
        steps=2,
        hold_id="h",
        reserved=1,
        deadline=now + dt.timedelta(hours=1),
        created_at=now,
        updated_at=now,
        data=data or {},
    )


def spec_for(model: str = "fake-embed", max_tokens: int = 100_000) -> IngestInput:
    run = uuid.uuid4().hex
    return IngestInput(
        store_id=f"vs_{run}",
        file_id=f"file-{run}",
        path=f"users/u/files/file-{run}",
        kind="txt",
        filename="t.txt",
        model=model,
        size=37,
        overlap=9,
        max_tokens=max_tokens,
    )


def test_steps_delivered_twice_embed_once_and_write_the_same_chunks(jobs_stack: JobsStack) -> None:
    spec = spec_for()

    async def run() -> None:
        parts = Parts(jobs_stack.settings)
        ingest, caller, store, db, repo = parts.ingest, parts.caller, parts.store, parts.db, parts.repo
        await store.put_if_absent(spec.path, TEXT, "text/plain")
        await repo.store(spec.store_id).set({"version": 0})
        await repo.store_file(spec.store_id, spec.file_id).set({"status": "in_progress"})
        await db.collection("files").document(spec.file_id).set({"owner": "user_u"})
        first = await ingest.run_step(job_for(spec), 0)
        again = await ingest.run_step(job_for(spec), 0)
        assert first.data == again.data and first.steps == again.steps
        batches = int(first.data["batches"])
        assert batches >= 2 and first.steps == batches + 2
        job = job_for(spec, first.data)
        costs = [(await ingest.run_step(job, 1)).cost, (await ingest.run_step(job, 1)).cost]
        assert costs[0] == costs[1] > 0 and caller.calls == 1
        for step in range(2, batches + 1):
            await ingest.run_step(job, step)
        await ingest.run_step(job, batches + 1)
        await ingest.run_step(job, batches + 1)  # delivered twice: same ids, same chunks
        entry = (await repo.store_file(spec.store_id, spec.file_id).get()).to_dict()
        assert entry["status"] == "completed" and entry["chunks"] == first.data["chunks"]
        assert await store.read(scratch_prefix(spec) + "chunks.json") is None  # scratch removed

    asyncio.run(run())
    chunks = chunks_where("file_id", spec.file_id)
    assert [c["index"] for c in chunks] == list(range(len(chunks)))


def test_a_failing_provider_and_a_text_too_long_embed_nothing(jobs_stack: JobsStack) -> None:
    failing, short = spec_for("fake-embed-500"), spec_for(max_tokens=50)

    async def run() -> None:
        parts = Parts(jobs_stack.settings)
        ingest, store = parts.ingest, parts.store
        for spec in (failing, short):
            await store.put_if_absent(spec.path, TEXT, "text/plain")
        chunked = await ingest.run_step(job_for(failing), 0)
        with pytest.raises(StepFailed) as provider:
            await ingest.run_step(job_for(failing, chunked.data), 1)
        assert provider.value.retryable and provider.value.code == "server_error"
        with pytest.raises(StepFailed) as too_long:
            await ingest.run_step(job_for(short), 0)
        assert not too_long.value.retryable and too_long.value.code == "invalid_file"
        assert await store.read(scratch_prefix(short) + "chunks.json") is None

    asyncio.run(run())
    assert chunks_where("file_id", failing.file_id) == [] and chunks_where("file_id", short.file_id) == []
