"""Speech-to-text models of the media catalog (media.toml's `[[transcription]]` tables) and their prices
in credits per second of audio. The first available model is the default.

Providers (keys, api_base) come from the model catalog, as for image models.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.catalog.catalog import Catalog, UnknownModel
from shared.catalog.media import provider_fields
from shared.settings import Settings


@dataclass(frozen=True)
class TranscriptionModel:
    id: str
    provider: str
    litellm_model: str
    price_per_second: int  # credits per second of audio
    available: bool
    api_base: str | None = None
    api_key: str | None = None
    params: tuple[tuple[str, str], ...] = ()


@dataclass
class AudioCatalog:
    models: dict[str, TranscriptionModel]

    @classmethod
    def load(cls, settings: Settings, catalog: Catalog, path: Path | None = None) -> AudioCatalog:
        raw = tomllib.loads(Path(path or settings.media_catalog_path).read_text())
        models = {conf["id"]: _model(conf, catalog) for conf in raw.get("transcription", [])}
        return cls(models)

    def model(self, name: str | None) -> TranscriptionModel:
        """The transcription model for a name (or the first available one), if its provider is configured."""
        offered = [m.id for m in self.models.values() if m.available]
        chosen = self.models.get(name) if name else self.models.get(offered[0]) if offered else None
        if chosen is None or not chosen.available:
            if not offered:
                raise UnknownModel(
                    "No speech-to-text model is enabled: set a transcription provider's key "
                    "(OPENAI_API_KEY) and restart; see README."
                )
            raise UnknownModel(
                f"The transcription model '{name}' does not exist or is not enabled; "
                f"choose one of {', '.join(sorted(offered))}."
            )
        return chosen


def _model(conf: dict[str, Any], catalog: Catalog) -> TranscriptionModel:
    price = int(conf["price_per_second"])
    if price <= 0:
        raise ValueError(f"transcription model {conf['id']} needs a positive price_per_second")
    return TranscriptionModel(
        id=conf["id"],
        provider=conf["provider"],
        litellm_model=conf["litellm_model"],
        price_per_second=price,
        **provider_fields(conf, catalog),
    )
