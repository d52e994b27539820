"""Indexing one file into one vector store: the job kind `vector_store_file`.

    step 0          read the file, extract its text (extract.py), cut it into chunks (chunking.py), keep
                    them at `{owner}/vector_stores/{vs}/{file}/chunks.json` in the jobs bucket
    steps 1..n      embed batch k of the chunks (the model's max_inputs a call) through the gateway; keep
                    the vectors at `.../batch-{k}.json`; costs the model's price of the tokens it read
    step n+1        write the chunks with their vectors to Firestore (repository.py), mark the file
                    `completed`, save the store's keyword index (keyword_index.py), delete the scratch
                    objects

Every step may run twice: the scratch objects are created if absent (a batch already embedded by a delivery
that died before its checkpoint is read back, not embedded again, and charged once, by this checkpoint),
and the chunks have fixed ids. Nothing is searchable before the last step, so a file that fails half-way
leaves no chunks behind. The job reserves the worst case when it is created: the model's price for the
tokens `max_tokens` allows (the file's bytes, or four tokens a byte for a compressed PDF or DOCX, at most
settings.knowledge_max_file_tokens), with the overlaps and a margin for the provider's tokenizer; a text
that turns out longer fails `file_too_large` before anything is embedded. The hold is settled for what the
batches cost (shared/jobs/charges.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
from google.api_core.exceptions import NotFound
from pydantic import BaseModel

from shared.adapters.storage import BlobStore
from shared.catalog.catalog import UnknownModel
from shared.catalog.embeddings import EmbeddingCatalog, EmbeddingModel
from shared.clock import now
from shared.embeddings.service import worst_case_tokens
from shared.errors import AppError
from shared.files.service import FILES
from shared.gateway.embeddings import EmbeddingCaller
from shared.jobs.errors import StepFailed
from shared.jobs.kinds import Plan, StepResult
from shared.jobs.schemas import Job, JobCreate
from shared.knowledge.chunking import Chunking, chunk_text, embedded_tokens
from shared.knowledge.extract import ExtractFailed, extract_text
from shared.knowledge.ingest_input import IngestInput
from shared.knowledge.keyword_index import KeywordIndexes
from shared.knowledge.repository import KnowledgeRepository

log = logging.getLogger("knowledge.ingest")
JSON = "application/json"
CHARS_PER_TOKEN = 8  # read at most this many characters per token the job may embed


def scratch_prefix(spec: IngestInput) -> str:
    owner = spec.path.split("/files/")[0]
    return f"{owner}/vector_stores/{spec.store_id}/{spec.file_id}/"


def max_tokens_for(kind: str, size_bytes: int, cap: int) -> int:
    per_byte = 4 if kind in ("pdf", "docx") else 1
    return max(min(size_bytes * per_byte, cap), 1)


class IngestJob:
    def __init__(
        self,
        catalog: EmbeddingCatalog,
        caller: EmbeddingCaller,
        store: BlobStore,
        repo: KnowledgeRepository,
        deadline_s: int,
    ) -> None:
        self._catalog = catalog
        self._caller = caller
        self._store = store
        self._repo = repo
        self._deadline_s = deadline_s

    def plan(self, request: JobCreate) -> Plan:
        spec = _input(request.input)
        model = self._catalog.model(spec.model)
        tokens = embedded_tokens(spec.max_tokens, Chunking(spec.size, spec.overlap))
        price = model.cost(worst_case_tokens(tokens, tokens // max(spec.size, 1) + 1))
        params = spec.model_dump() | {"model": model.id}
        return Plan(params=params, steps=2, price=max(price, 1), deadline_s=self._deadline_s)

    async def run_step(self, job: Job, step: int) -> StepResult:
        spec = _input(job.params)
        try:
            model = self._catalog.model(spec.model)
        except UnknownModel as exc:
            raise StepFailed(exc.message, code="server_error", retryable=False) from exc
        if step == 0:
            return await self._chunk(spec, model)
        batches = int(job.data.get("batches", 0))
        if step <= batches:
            return await self._embed(spec, model, step - 1)
        return await self._finish(spec, batches)

    async def _chunk(self, spec: IngestInput, model: EmbeddingModel) -> StepResult:
        data = await self._store.read(spec.path)
        if data is None:
            raise StepFailed("The file was deleted.", code="invalid_file", retryable=False)
        chunking = Chunking(spec.size, spec.overlap)
        limit = spec.max_tokens * CHARS_PER_TOKEN
        try:
            chunks = await anyio.to_thread.run_sync(_extract_and_chunk, spec.kind, data, limit, chunking)
        except ExtractFailed as exc:
            code = "unsupported_file" if exc.code == "file_encrypted" else "invalid_file"
            raise StepFailed(exc.message, code=code, retryable=False) from exc
        tokens = sum(t for _, t in chunks)
        if tokens > embedded_tokens(spec.max_tokens, chunking):
            raise StepFailed(
                f"The file's text is longer than the {spec.max_tokens} tokens one file may index; split it.",
                code="invalid_file",
                retryable=False,
            )
        body = json.dumps([[text, n] for text, n in chunks]).encode()
        await self._store.put_if_absent(scratch_prefix(spec) + "chunks.json", body, JSON)
        batches = -(-len(chunks) // model.max_inputs)
        log.info("file chunked", extra={"file_id": spec.file_id, "chunks": len(chunks), "tokens": tokens})
        return StepResult(data={"chunks": len(chunks), "batches": batches}, steps=batches + 2)

    async def _chunks(self, spec: IngestInput) -> list[tuple[str, int]]:
        body = await self._store.read(scratch_prefix(spec) + "chunks.json")
        if body is None:
            raise StepFailed("The file's chunks are missing.", code="server_error", retryable=True)
        return [(str(text), int(n)) for text, n in json.loads(body)]

    async def _embed(self, spec: IngestInput, model: EmbeddingModel, batch: int) -> StepResult:
        path = scratch_prefix(spec) + f"batch-{batch}.json"
        stored = await self._store.read(path)
        if stored is not None:  # embedded by a delivery that died before its checkpoint
            kept = json.loads(stored)
            return StepResult(cost=model.cost(int(kept["tokens"])))
        chunks = await self._chunks(spec)
        texts = [text for text, _ in chunks[batch * model.max_inputs : (batch + 1) * model.max_inputs]]
        try:
            embedded = await self._caller.embed(model, texts, None, None)
        except AppError as exc:
            raise StepFailed(
                "The embedding provider failed.", code="server_error", retryable=exc.status >= 500
            ) from exc
        estimate = sum(n for _, n in chunks[batch * model.max_inputs : (batch + 1) * model.max_inputs])
        tokens = embedded.prompt_tokens or estimate
        body = json.dumps({"tokens": tokens, "vectors": embedded.vectors}).encode()
        await self._store.put_if_absent(path, body, JSON)
        return StepResult(cost=model.cost(tokens))

    async def _finish(self, spec: IngestInput, batches: int) -> StepResult:
        entry = self._repo.store_file(spec.store_id, spec.file_id)
        current = await entry.get()
        if not current.exists:  # removed from the store (or the store deleted) meanwhile
            await self._store.delete_prefix(scratch_prefix(spec))
            return StepResult()
        if current.get("status") == "completed":  # an earlier delivery finished before its checkpoint
            await self._store.delete_prefix(scratch_prefix(spec))
            return StepResult()
        chunks = await self._chunks(spec)
        indexes = KeywordIndexes(self._repo)
        before = await indexes.saved(spec.store_id)  # the bump below deletes it
        vectors: list[list[float]] = []
        for batch in range(batches):
            stored = await self._store.read(scratch_prefix(spec) + f"batch-{batch}.json")
            if stored is None:
                raise StepFailed("A batch of vectors is missing.", code="server_error", retryable=False)
            vectors += json.loads(stored)["vectors"]
        await self._repo.write_chunks(spec.store_id, spec.file_id, chunks, vectors)
        dims = len(vectors[0]) if vectors else 0
        size = sum(len(text.encode()) for text, _ in chunks) + 4 * dims * len(vectors)
        try:
            await entry.update({"status": "completed", "chunks": len(chunks), "usage_bytes": size})
            await self._repo.bump(spec.store_id, int(now().timestamp()))
        except NotFound:
            pass  # removed while the chunks were written: the check below takes them out again
        if await self._still_there(spec):
            await indexes.save_with_file(spec.store_id, before, spec.file_id, [text for text, _ in chunks])
        else:
            await self._repo.delete_chunks("file_id", spec.file_id, ("store_id", spec.store_id))
            await self._repo.drop_keyword_indexes(spec.store_id)
        await self._store.delete_prefix(scratch_prefix(spec))
        log.info(
            "file indexed", extra={"file_id": spec.file_id, "store_id": spec.store_id, "chunks": len(chunks)}
        )
        return StepResult()

    async def _still_there(self, spec: IngestInput) -> bool:
        entry = await self._repo.store_file(spec.store_id, spec.file_id).get()
        file = await self._repo.db.collection(FILES).document(spec.file_id).get()
        return bool(entry.exists and file.exists)


def _extract_and_chunk(kind: str, data: bytes, limit: int, chunking: Chunking) -> list[tuple[str, int]]:
    return chunk_text(extract_text(kind, data, limit), chunking)


def _input(raw: Any) -> IngestInput:
    if isinstance(raw, IngestInput):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    return IngestInput.model_validate({k: raw[k] for k in IngestInput.model_fields})
