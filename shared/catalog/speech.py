"""Text-to-speech models of the media catalog (media.toml's `[[speech]]` tables): what each accepts (the
longest input, its voices and audio formats, whether it takes `speed` and `instructions`) and its price
in credits per million characters of input (1 credit = 1 micro-USD, so OpenAI's tts-1 at $15 per million
characters is 15_000_000). A call costs ceil(characters * price / 1,000,000), known before the call.

Providers (keys, api_base) come from the model catalog, as for the other media models: a model whose
provider has no key configured is not offered (404, like an unknown one).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.catalog.catalog import PER_MILLION, Catalog, UnknownModel
from shared.catalog.media import provider_fields
from shared.settings import Settings

# OpenAI's response formats; a model lists those it can make.
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
# What each format is sent as (the values OpenAI answers with).
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


@dataclass(frozen=True)
class SpeechModel:
    id: str
    provider: str
    litellm_model: str
    price_per_million_chars: int  # credits per million characters of input
    max_input_chars: int
    voices: tuple[str, ...]
    formats: tuple[str, ...]
    speed: bool  # takes `speed` (0.25 to 4.0)
    instructions: bool  # takes `instructions` (the voice's tone, accent, pace)
    available: bool
    api_base: str | None = None
    api_key: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    def price(self, characters: int) -> int:
        """Credits for `characters` of input, rounded up: a call is never free."""
        return -(-characters * self.price_per_million_chars // PER_MILLION)


@dataclass
class SpeechCatalog:
    models: dict[str, SpeechModel]

    @classmethod
    def load(cls, settings: Settings, catalog: Catalog, path: Path | None = None) -> SpeechCatalog:
        raw = tomllib.loads(Path(path or settings.media_catalog_path).read_text())
        return cls({conf["id"]: _model(conf, catalog) for conf in raw.get("speech", [])})

    def model(self, name: str) -> SpeechModel:
        """The named model, if its provider is configured; 404 model_not_found otherwise."""
        chosen = self.models.get(name)
        if chosen is None or not chosen.available:
            offered = sorted(m.id for m in self.models.values() if m.available)
            if not offered:
                raise UnknownModel(
                    "No text-to-speech model is enabled: set a speech provider's key (OPENAI_API_KEY, "
                    "GEMINI_API_KEY) and restart; see README."
                )
            raise UnknownModel(
                f"The speech model '{name[:128]}' does not exist or is not enabled; "
                f"choose one of {', '.join(offered)}."
            )
        return chosen


def _model(conf: dict[str, Any], catalog: Catalog) -> SpeechModel:
    name = conf["id"]
    price = int(conf["price_per_million_chars"])
    max_chars = int(conf["max_input_chars"])
    voices = tuple(str(v) for v in conf["voices"])
    formats = tuple(str(f) for f in conf.get("formats", FORMATS))
    if price <= 0 or max_chars <= 0 or not voices or not formats:
        raise ValueError(f"speech model {name} needs a positive price and input limit, voices and formats")
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"speech model {name}: unknown formats {sorted(unknown)} (known: {FORMATS})")
    return SpeechModel(
        id=name,
        provider=conf["provider"],
        litellm_model=conf["litellm_model"],
        price_per_million_chars=price,
        max_input_chars=max_chars,
        voices=voices,
        formats=formats,
        speed=bool(conf.get("speed", True)),
        instructions=bool(conf.get("instructions", False)),
        **provider_fields(conf, catalog),
    )
