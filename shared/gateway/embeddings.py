"""Embeddings through litellm: the semantic cache's embedder (shared.cache.types.Embedder), and the
provider call and token count of POST /v1/embeddings (shared/embeddings/service.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from shared.catalog.embeddings import EmbeddingModel
from shared.errors import UpstreamError
from shared.gateway import tokenizer
from shared.gateway.errors import translate
from shared.gateway.lazy import load_litellm
from shared.gateway.types import provider_args


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
                response = await (await load_litellm()).aembedding(
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


@dataclass(frozen=True)
class Embedded:
    """The vectors of a request's inputs, in input order, and the tokens the provider says it read
    (None when it did not say)."""

    vectors: list[list[float]]
    prompt_tokens: int | None


def count_tokens(model: EmbeddingModel, text: str) -> int:
    """Our estimate of an input's tokens (the provider's tokenizer may differ; its count settles)."""
    return tokenizer.count_text(model.litellm_model, text)


class EmbeddingCaller:
    """POST /v1/embeddings' provider call: one litellm request for every input, under the model's
    timeout, with one quick retry inside the client. `dimensions` is sent only to models whose
    catalog entry allows it (litellm would otherwise drop it for names it does not know)."""

    async def embed(
        self, model: EmbeddingModel, inputs: list[str], dimensions: int | None, user: str | None
    ) -> Embedded:
        extra: dict[str, Any] = {}
        if dimensions is not None:
            extra = {"dimensions": dimensions, "allowed_openai_params": ["dimensions"]}
        if user:
            extra["user"] = user
        try:
            with anyio.fail_after(model.timeout_s + 1):
                response = await (await load_litellm()).aembedding(
                    model=model.litellm_model,
                    input=inputs,
                    timeout=model.timeout_s,
                    max_retries=1,
                    **_provider(model),
                    **extra,
                )
        except Exception as exc:
            raise translate(exc, model.provider) from exc
        return Embedded(_vectors(response, len(inputs)), _prompt_tokens(response))


def _provider(model: EmbeddingModel) -> dict[str, Any]:
    args = provider_args(model)
    if "api_key" not in args and not model.litellm_model.startswith("vertex_ai/"):
        args["api_key"] = "no-key"  # an OpenAI-compatible local server needs none, the client wants one
    return args


def _vectors(response: Any, expected: int) -> list[list[float]]:
    data = list(getattr(response, "data", None) or [])
    if len(data) != expected:
        raise UpstreamError(f"The embedding provider returned {len(data)} vectors for {expected} inputs.")
    indexed: dict[int, list[float]] = {}
    for position, item in enumerate(data):
        get = item.get if isinstance(item, dict) else lambda key, i=item: getattr(i, key, None)
        index = get("index")
        vector = get("embedding")
        if not isinstance(vector, list) or not vector:
            raise UpstreamError("The embedding provider returned an item without a vector.")
        indexed[index if isinstance(index, int) else position] = [float(x) for x in vector]
    if sorted(indexed) != list(range(expected)):
        raise UpstreamError("The embedding provider's indexes do not match the inputs.")
    return [indexed[i] for i in range(expected)]


def _prompt_tokens(response: Any) -> int | None:
    usage = getattr(response, "usage", None)
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else getattr(usage, "prompt_tokens", None)
    return tokens if isinstance(tokens, int) and tokens > 0 else None
