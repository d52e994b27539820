"""Embedding models: the `[[embeddings]]` tables of the model catalog (models.toml).

Each has a price in credits per million input tokens, the most tokens one input may have, the most
inputs one request may carry, its vector size, and whether a caller may ask for fewer dimensions
(`dimensions_adjustable`). Providers (keys, api_base) are the model catalog's `[providers.*]`, so a
key is configured once; a model is offered only when its provider is configured.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.catalog.catalog import PER_MILLION, Catalog, UnknownModel
from shared.catalog.media import provider_fields
from shared.settings import Settings


@dataclass(frozen=True)
class EmbeddingModel:
    id: str
    provider: str
    litellm_model: str
    price: int  # credits per million input tokens
    max_input_tokens: int  # per input
    max_inputs: int  # per request
    dimensions: int  # the vector's size when `dimensions` is not asked for
    dimensions_adjustable: bool
    available: bool
    description: str = ""
    timeout_s: float = 30.0
    api_base: str | None = None
    api_key: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    def cost(self, tokens: int) -> int:
        """Credits for `tokens` input tokens, rounded up: a call that used anything costs at least one."""
        return -(-tokens * self.price // PER_MILLION)


@dataclass
class EmbeddingCatalog:
    models: dict[str, EmbeddingModel]
    default_model: str | None

    @classmethod
    def load(cls, settings: Settings, catalog: Catalog, path: Path | None = None) -> EmbeddingCatalog:
        raw = tomllib.loads(Path(path or settings.catalog_path).read_text())
        models = {conf["id"]: _model(conf, catalog) for conf in raw.get("embeddings", [])}
        return cls(models, raw.get("default_embedding_model"))

    def available(self) -> list[EmbeddingModel]:
        return [m for m in self.models.values() if m.available]

    def model(self, name: str) -> EmbeddingModel:
        """The embedding model of that id, if its provider is configured (404 `model_not_found`)."""
        chosen = self.models.get(name)
        if chosen is not None and chosen.available:
            return chosen
        offered = ", ".join(m.id for m in self.available())
        if not offered:
            raise UnknownModel(
                "No embedding model is enabled: set an embedding provider's key (OPENAI_API_KEY, "
                "GEMINI_API_KEY) or start the local stack (`make run`); see README."
            )
        raise UnknownModel(
            f"The embedding model '{name[:100]}' does not exist or is not enabled; choose one of {offered}."
        )


def _model(conf: dict[str, Any], catalog: Catalog) -> EmbeddingModel:
    model_id = conf["id"]
    values = {k: int(conf[k]) for k in ("price", "max_input_tokens", "max_inputs", "dimensions")}
    if min(values.values()) < 1:
        raise ValueError(f"embedding model {model_id} needs a positive price, limits and dimensions")
    return EmbeddingModel(
        id=model_id,
        provider=conf["provider"],
        litellm_model=conf["litellm_model"],
        dimensions_adjustable=bool(conf.get("dimensions_adjustable", False)),
        description=str(conf.get("description", "")),
        timeout_s=float(conf.get("timeout_s", 30.0)),
        **values,
        **provider_fields(conf, catalog),
    )
