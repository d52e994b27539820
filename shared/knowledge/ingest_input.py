"""The input of a `vector_store_file` job (shared/knowledge/ingest.py): built by the vector store service,
never by a client (POST /v1/jobs refuses the type)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class IngestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: str
    file_id: str
    path: str  # the file's object in the jobs bucket
    kind: str  # its sniffed type (shared/files/sniff.py)
    filename: str
    model: str  # the embedding model
    size: int  # tokens a chunk
    overlap: int
    max_tokens: int  # the most text tokens the job may index (its reservation pays for them)
