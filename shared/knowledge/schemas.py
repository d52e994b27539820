"""Vector stores, their files and search, in OpenAI's shapes (the official SDK parses them unchanged).

Requests are validated here (400 before anything is read or written): names, metadata (16 pairs, keys of
64 and values of 512 characters), file attributes (16 pairs of strings, numbers or booleans), the chunking
strategy (OpenAI's bounds: 100..4096 tokens a chunk, an overlap of at most half), `expires_after`
(1..365 days after the store was last active) and the search's query and filters.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_FILE_IDS = 100  # per create request (OpenAI: 500); add more with POST .../files
MAX_QUERY_CHARS = 4000
MAX_RESULTS = 50

Attribute = str | float | bool


def _check_pairs(values: dict[str, Any] | None, value_chars: int) -> dict[str, Any] | None:
    if values is None:
        return None
    if len(values) > 16:
        raise ValueError("at most 16 key-value pairs")
    for key, value in values.items():
        if not key or len(key) > 64:
            raise ValueError("keys are 1 to 64 characters")
        if isinstance(value, str) and len(value) > value_chars:
            raise ValueError(f"string values are at most {value_chars} characters")
    return values


class StaticChunking(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)

    @model_validator(mode="after")
    def _overlap(self) -> StaticChunking:
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise ValueError("chunk_overlap_tokens must be at most half of max_chunk_size_tokens")
        return self


class ChunkingStrategy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["auto", "static"] = "auto"
    static: StaticChunking | None = None

    @model_validator(mode="after")
    def _static_given(self) -> ChunkingStrategy:
        if (self.type == "static") != (self.static is not None):
            raise ValueError("`static` is given exactly when type is static")
        return self


class ExpiresAfter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class VectorStoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=512)
    file_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=MAX_FILE_IDS
    )
    chunking_strategy: ChunkingStrategy | None = None
    expires_after: ExpiresAfter | None = None
    metadata: dict[str, str] | None = None

    _metadata = field_validator("metadata")(lambda v: _check_pairs(v, 512))


class VectorStoreUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=256)
    expires_after: ExpiresAfter | None = None
    metadata: dict[str, str] | None = None

    _metadata = field_validator("metadata")(lambda v: _check_pairs(v, 512))


class StoreFileCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file_id: str = Field(max_length=64)
    attributes: dict[str, Attribute] | None = None
    chunking_strategy: ChunkingStrategy | None = None

    _attributes = field_validator("attributes")(lambda v: _check_pairs(v, 512))


class FileCounts(BaseModel):
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


class VectorStore(BaseModel):
    id: str
    object: Literal["vector_store"] = "vector_store"
    created_at: int
    name: str
    usage_bytes: int
    file_counts: FileCounts
    status: Literal["expired", "in_progress", "completed"]
    expires_after: ExpiresAfter | None = None
    expires_at: int | None = None
    last_active_at: int | None = None
    metadata: dict[str, str] | None = None
    workspace_id: str | None = None  # ours: the workspace that owns it (None: its creator does)


class LastError(BaseModel):
    code: str  # OpenAI's: server_error, unsupported_file, invalid_file
    message: str


class ChunkingUsed(BaseModel):
    """The chunking a file was cut with (a small embedding model's is below the 100 tokens asked of a
    static strategy)."""

    max_chunk_size_tokens: int
    chunk_overlap_tokens: int


class StaticStrategyObject(BaseModel):
    type: Literal["static"] = "static"
    static: ChunkingUsed


class StoreFile(BaseModel):
    id: str
    object: Literal["vector_store.file"] = "vector_store.file"
    created_at: int
    vector_store_id: str
    status: Literal["in_progress", "completed", "cancelled", "failed"]
    last_error: LastError | None = None
    usage_bytes: int = 0
    attributes: dict[str, Attribute] | None = None
    chunking_strategy: StaticStrategyObject | None = None
    chunks: int = 0  # ours: how many chunks the file was cut into


class StoreList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VectorStore]
    has_more: bool
    first_id: str | None
    last_id: str | None


class StoreFileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[StoreFile]
    has_more: bool
    first_id: str | None
    last_id: str | None


class VectorStoreDeleted(BaseModel):
    id: str
    object: Literal["vector_store.deleted"] = "vector_store.deleted"
    deleted: bool = True


class StoreFileDeleted(BaseModel):
    id: str
    object: Literal["vector_store.file.deleted"] = "vector_store.file.deleted"
    deleted: bool = True


class RankingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ranker: Literal["none", "auto", "default-2024-11-15"] | None = None
    score_threshold: float = Field(0.0, ge=0.0, le=1.0)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str | list[str]
    max_num_results: int = Field(10, ge=1, le=MAX_RESULTS)
    filters: dict[str, Any] | None = None
    ranking_options: RankingOptions | None = None
    rewrite_query: bool = False

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | list[str]) -> str | list[str]:
        texts = [value] if isinstance(value, str) else value
        if not texts or len(texts) > 10 or any(not t.strip() for t in texts):
            raise ValueError("give one query, or a list of at most 10, none empty")
        if sum(len(t) for t in texts) > MAX_QUERY_CHARS:
            raise ValueError(f"the query is at most {MAX_QUERY_CHARS} characters")
        return value

    def text(self) -> str:
        return self.query if isinstance(self.query, str) else " ".join(self.query)


class SearchContent(BaseModel):
    type: Literal["text"] = "text"
    text: str


class SearchHit(BaseModel):
    file_id: str
    filename: str
    score: float
    attributes: dict[str, Attribute] | None = None
    content: list[SearchContent]


class SearchPage(BaseModel):
    object: Literal["vector_store.search_results.page"] = "vector_store.search_results.page"
    search_query: list[str]
    data: list[SearchHit]
    has_more: bool = False
    next_page: str | None = None


class BatchFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file_id: str = Field(max_length=64)
    attributes: dict[str, Attribute] | None = None
    chunking_strategy: ChunkingStrategy | None = None

    _attributes = field_validator("attributes")(lambda v: _check_pairs(v, 512))


class FileBatchCreate(BaseModel):
    """`file_ids` (with one `attributes` and `chunking_strategy` for all) or `files` (each its own)."""

    model_config = ConfigDict(extra="forbid")
    file_ids: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=MAX_FILE_IDS)
    files: list[BatchFile] | None = Field(None, max_length=MAX_FILE_IDS)
    attributes: dict[str, Attribute] | None = None
    chunking_strategy: ChunkingStrategy | None = None

    _attributes = field_validator("attributes")(lambda v: _check_pairs(v, 512))

    @model_validator(mode="after")
    def _one_of(self) -> FileBatchCreate:
        if (self.file_ids is None) == (self.files is None) or not (self.file_ids or self.files):
            raise ValueError("give `file_ids` or `files` (not both), with at least one file")
        if self.files is not None and (self.attributes is not None or self.chunking_strategy is not None):
            raise ValueError("with `files`, give attributes and chunking_strategy per file")
        return self

    def each(self) -> list[BatchFile]:
        if self.files is not None:
            return self.files
        return [
            BatchFile(file_id=f, attributes=self.attributes, chunking_strategy=self.chunking_strategy)
            for f in self.file_ids or []
        ]


class FileBatch(BaseModel):
    id: str
    object: Literal["vector_store.files_batch"] = "vector_store.files_batch"
    created_at: int
    vector_store_id: str
    status: Literal["in_progress", "completed", "cancelled", "failed"]
    file_counts: FileCounts
