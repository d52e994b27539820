"""What the cache stores and the two interfaces around it."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.cache.keys import CacheKey


class CachedAnswer(BaseModel):
    """A complete answer as the model produced it, and who produced it.

    `match` and `similarity` describe how a lookup found it; they are not stored."""

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: str | None
    model: str
    provider: str
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    created: int  # unix seconds when the original answer was produced
    match: Literal["exact", "semantic"] = Field("exact", exclude=True)
    similarity: float = Field(1.0, exclude=True)


class Cache(Protocol):
    """A response cache. A cache fault never raises: `get` reports a miss and `put` gives up."""

    async def get(self, key: CacheKey) -> CachedAnswer | None: ...

    async def put(self, key: CacheKey, answer: CachedAnswer) -> None: ...


class Embedder(Protocol):
    """Turns a text into a vector; implemented by shared.gateway.embeddings.LitellmEmbedder."""

    async def embed(self, text: str) -> list[float]: ...
