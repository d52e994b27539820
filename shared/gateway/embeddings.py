"""Embeddings through litellm, for the semantic cache (shared.cache.types.Embedder)."""

from __future__ import annotations

from typing import Any

import anyio
import litellm


class EmbeddingError(Exception):
    """The embedding provider failed; the semantic cache treats it as a miss."""


class LitellmEmbedder:
    def __init__(
        self,
        model: str,
        api_key: str | None = None,
        api_base: str | None = None,
        timeout_s: float = 2.0,
        dimensions: int | None = None,
    ) -> None:
        self.model = model
        self.dimensions = dimensions  # fewer dimensions, faster lookups (models that support it)
        self.api_key = api_key
        self.api_base = api_base
        self.timeout_s = timeout_s

    async def embed(self, text: str) -> list[float]:
        """The vector of `text`, within `timeout_s` in all: a cache lookup must never hold a chat request
        up for long. litellm 1.106.2 turns `max_retries=0` into its default of 2 for OpenAI embeddings
        (`max_retries or DEFAULT_MAX_RETRIES`), so the deadline, not the retry count, is the bound."""
        try:
            with anyio.fail_after(self.timeout_s):
                response = await litellm.aembedding(
                    model=self.model,
                    input=[text],
                    api_key=self.api_key,
                    api_base=self.api_base,
                    timeout=self.timeout_s,
                    max_retries=0,
                    **({"dimensions": self.dimensions} if self.dimensions else {}),
                )
        except Exception as exc:
            raise EmbeddingError(f"embedding with {self.model} failed: {type(exc).__name__}") from exc
        return _first_vector(response)


def _first_vector(response: Any) -> list[float]:
    data = getattr(response, "data", None) or []
    if not data:
        raise EmbeddingError("the embedding response has no data")
    first = data[0]
    vector = first.get("embedding") if isinstance(first, dict) else getattr(first, "embedding", None)
    if not isinstance(vector, list) or not vector:
        raise EmbeddingError("the embedding response has no vector")
    return [float(x) for x in vector]
