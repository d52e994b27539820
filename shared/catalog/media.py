"""The media catalog (media.toml): image models (prices per image and size), video models (prices per
second of video), and the price of one web search of a research job.

Providers (keys, api_base, Vertex parameters) come from the model catalog, so a key is configured once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypedDict, TypeVar

from shared.catalog.catalog import Catalog, UnknownModel
from shared.settings import Settings


@dataclass(frozen=True)
class ImageModel:
    id: str
    provider: str
    litellm_model: str
    prices: tuple[tuple[str, int], ...]  # (size, credits per image)
    max_n: int
    available: bool
    api_base: str | None = None
    api_key: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    @property
    def sizes(self) -> list[str]:
        return [size for size, _ in self.prices]

    def price(self, size: str) -> int | None:
        return dict(self.prices).get(size)


@dataclass(frozen=True)
class VideoModel:
    id: str
    provider: str
    litellm_model: str
    price_per_second: int
    seconds: tuple[int, ...]  # the clip lengths it makes
    sizes: tuple[str, ...]
    available: bool
    api_base: str | None = None
    api_key: str | None = None
    params: tuple[tuple[str, str], ...] = ()


@dataclass
class MediaCatalog:
    images: dict[str, ImageModel]
    default_image_model: str | None
    videos: dict[str, VideoModel] = field(default_factory=dict)
    default_video_model: str | None = None
    search_price: int = 0  # credits per web search of a research job
    vector_store_gb_day: int = 0  # credits per GB of a vector store a day

    @classmethod
    def load(cls, settings: Settings, catalog: Catalog, path: Path | None = None) -> MediaCatalog:
        raw = tomllib.loads(Path(path or settings.media_catalog_path).read_text())
        images = {conf["id"]: _image(conf, catalog) for conf in raw.get("images", [])}
        videos = {conf["id"]: _video(conf, catalog) for conf in raw.get("videos", [])}
        search_price = int(raw.get("search", {}).get("price", 0))
        if search_price < 0:
            raise ValueError("the search price cannot be negative")
        store_price = int(raw.get("storage", {}).get("vector_store_gb_day", 0))
        if store_price < 0:
            raise ValueError("the vector store storage price cannot be negative")
        return cls(
            images,
            raw.get("default_image_model"),
            videos,
            raw.get("default_video_model"),
            search_price,
            store_price,
        )

    def video_model(self, name: str | None) -> VideoModel:
        """The video model for a name (or the default), if its provider is configured."""
        return _pick(
            self.videos,
            name or self.default_video_model,
            "video",
            "No video model is enabled: set a video provider's key (OPENAI_API_KEY for Sora, "
            "GEMINI_API_KEY or Vertex AI's VERTEX_PROJECT for Veo) and restart; see README.",
        )

    def image_model(self, name: str | None) -> ImageModel:
        """The image model for a name (or the default), if its provider is configured."""
        return _pick(
            self.images,
            name or self.default_image_model,
            "image",
            "No image model is enabled: set an image provider's key (OPENAI_API_KEY, or Vertex AI's "
            "VERTEX_PROJECT and VERTEX_LOCATION) and restart; see README.",
        )


class _Offered(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def available(self) -> bool: ...


M = TypeVar("M", bound=_Offered)


def _pick(models: dict[str, M], name: str | None, kind: str, none_enabled: str) -> M:
    """The named model (no name: the first available one), refused when it is unknown or not enabled."""
    if name is None:
        name = next((m.id for m in models.values() if m.available), None)
    model = models.get(name) if name else None
    if model is None or not model.available:
        offered = ", ".join(sorted(m.id for m in models.values() if m.available))
        if not offered:
            raise UnknownModel(none_enabled)
        raise UnknownModel(
            f"The {kind} model '{name}' does not exist or is not enabled; choose one of {offered}."
        )
    return model


class ProviderFields(TypedDict):
    """What a media entry takes from its provider in the model catalog (keys are configured once)."""

    available: bool
    api_base: str | None
    api_key: str | None
    params: tuple[tuple[str, str], ...]


def provider_fields(conf: dict[str, Any], catalog: Catalog) -> ProviderFields:
    """The entry's provider's availability, api_base, key and litellm parameters; an entry's own
    `api_base` / `api_key` win."""
    provider = catalog.providers.get(conf["provider"])
    return ProviderFields(
        available=bool(provider and provider.available),
        api_base=conf.get("api_base") or (provider.api_base if provider else None),
        api_key=conf.get("api_key") or (provider.api_key if provider else None),
        params=provider.params if provider else (),
    )


def _image(conf: dict[str, Any], catalog: Catalog) -> ImageModel:
    prices = tuple((str(size), int(price)) for size, price in conf["prices"].items())
    if not prices or any(price <= 0 for _, price in prices):
        raise ValueError(f"image model {conf['id']} needs positive prices per size")
    return ImageModel(
        id=conf["id"],
        provider=conf["provider"],
        litellm_model=conf["litellm_model"],
        prices=prices,
        max_n=int(conf.get("max_n", 1)),
        **provider_fields(conf, catalog),
    )


def _video(conf: dict[str, Any], catalog: Catalog) -> VideoModel:
    price = int(conf["price_per_second"])
    seconds = tuple(int(n) for n in conf["seconds"])
    sizes = tuple(str(size) for size in conf["sizes"])
    if price <= 0 or not seconds or not sizes:
        raise ValueError(f"video model {conf['id']} needs a positive price, clip lengths and sizes")
    return VideoModel(
        id=conf["id"],
        provider=conf["provider"],
        litellm_model=conf["litellm_model"],
        price_per_second=price,
        seconds=seconds,
        sizes=sizes,
        **provider_fields(conf, catalog),
    )
