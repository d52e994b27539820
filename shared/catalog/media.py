"""The media catalog (media.toml): image models, their providers and their prices per image and size.

Providers (keys, api_base, Vertex parameters) come from the model catalog, so a key is configured once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class MediaCatalog:
    images: dict[str, ImageModel]
    default_image_model: str | None

    @classmethod
    def load(cls, settings: Settings, catalog: Catalog, path: Path | None = None) -> MediaCatalog:
        raw = tomllib.loads(Path(path or settings.media_catalog_path).read_text())
        images = {conf["id"]: _image(conf, catalog) for conf in raw.get("images", [])}
        return cls(images, raw.get("default_image_model"))

    def image_model(self, name: str | None) -> ImageModel:
        """The image model for a name (or the default), if its provider is configured."""
        name = name or self.default_image_model
        if name is None:
            name = next((m.id for m in self.images.values() if m.available), None)
        model = self.images.get(name) if name else None
        if model is None or not model.available:
            offered = ", ".join(sorted(m.id for m in self.images.values() if m.available))
            if not offered:
                raise UnknownModel(
                    "No image model is enabled: set an image provider's key (OPENAI_API_KEY, or Vertex AI's "
                    "VERTEX_PROJECT and VERTEX_LOCATION) and restart; see README."
                )
            raise UnknownModel(
                f"The image model '{name}' does not exist or is not enabled; choose one of {offered}."
            )
        return model


def _image(conf: dict[str, Any], catalog: Catalog) -> ImageModel:
    provider = catalog.providers.get(conf["provider"])
    prices = tuple((str(size), int(price)) for size, price in conf["prices"].items())
    if not prices or any(price <= 0 for _, price in prices):
        raise ValueError(f"image model {conf['id']} needs positive prices per size")
    return ImageModel(
        id=conf["id"],
        provider=conf["provider"],
        litellm_model=conf["litellm_model"],
        prices=prices,
        max_n=int(conf.get("max_n", 1)),
        available=bool(provider and provider.available),
        api_base=conf.get("api_base") or (provider.api_base if provider else None),
        api_key=conf.get("api_key") or (provider.api_key if provider else None),
        params=provider.params if provider else (),
    )
