"""The model catalog: a TOML file of providers and models with their prices (credits per million tokens)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import NotFound
from shared.secrets import SecretSource
from shared.settings import Settings

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Provider:
    name: str
    api_base: str | None
    api_key: str | None
    available: bool


@dataclass(frozen=True)
class ModelSpec:
    id: str
    provider: str
    litellm_model: str
    input_price: int
    output_price: int
    context_window: int
    max_output_tokens: int
    aliases: tuple[str, ...] = ()
    description: str = ""
    timeout_s: float | None = None

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Credits for a call, rounded up: a call that used anything costs at least one credit."""
        micro = input_tokens * self.input_price + output_tokens * self.output_price
        return -(-micro // PER_MILLION)

    def affordable_output(self, credits: int, input_tokens: int) -> int:
        """The most output tokens `credits` pays for after the prompt."""
        left = credits * PER_MILLION - input_tokens * self.input_price
        if left < 0:
            return 0
        if self.output_price == 0:
            return self.max_output_tokens
        return left // self.output_price


class UnknownModel(NotFound):
    code = "model_not_found"


@dataclass
class Catalog:
    providers: dict[str, Provider]
    models: dict[str, ModelSpec]
    default_model: str | None
    _names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.models.values():
            for name in (spec.id, *spec.aliases):
                self._names[name.lower()] = spec.id

    @classmethod
    def load(cls, settings: Settings, secrets: SecretSource, path: Path | None = None) -> Catalog:
        raw = tomllib.loads(Path(path or settings.catalog_path).read_text())
        providers = {
            name: _provider(name, conf, settings, secrets) for name, conf in raw.get("providers", {}).items()
        }
        models: dict[str, ModelSpec] = {}
        for conf in raw.get("models", []):
            spec = _model(conf)
            if spec.provider not in providers:
                raise ValueError(f"model {spec.id} names unknown provider {spec.provider}")
            models[spec.id] = spec
        default = settings.default_model or raw.get("default_model")
        return cls(providers, models, default)

    def available(self) -> list[ModelSpec]:
        return [m for m in self.models.values() if self.providers[m.provider].available]

    def resolve(self, name: str | None) -> tuple[ModelSpec, Provider]:
        """The model for a requested name or alias (or the default), if its provider is configured."""
        if not name:
            name = self.default_model or next((m.id for m in self.available()), None)
            if name is None:
                raise UnknownModel("No model is configured: add a provider key (see README).")
        model_id = self._names.get(name.lower())
        spec = self.models.get(model_id) if model_id else None
        if spec is None or not self.providers[spec.provider].available:
            raise UnknownModel(
                f"The model '{name}' does not exist or is not enabled; GET /v1/models lists them."
            )
        return spec, self.providers[spec.provider]


def _provider(name: str, conf: dict[str, Any], settings: Settings, secrets: SecretSource) -> Provider:
    api_base = conf.get("api_base")
    if conf.get("api_base_env"):
        env_name = str(conf["api_base_env"])
        # A name that is also a setting (LOCAL_MODEL_URL) is read from the settings object.
        if hasattr(settings, env_name.lower()):
            api_base = getattr(settings, env_name.lower())
        else:
            api_base = os.environ.get(env_name)
    key_name = conf.get("key")
    api_key = conf.get("api_key") or (secrets.get(key_name) if key_name else None)
    needs_key = key_name is not None
    needs_base = "api_base_env" in conf
    available = (api_key is not None or not needs_key) and (api_base is not None or not needs_base)
    return Provider(name=name, api_base=api_base, api_key=api_key, available=available)


def _model(conf: dict[str, Any]) -> ModelSpec:
    return ModelSpec(
        id=conf["id"],
        provider=conf["provider"],
        litellm_model=conf["litellm_model"],
        input_price=int(conf["input_price"]),
        output_price=int(conf["output_price"]),
        context_window=int(conf["context_window"]),
        max_output_tokens=int(conf["max_output_tokens"]),
        aliases=tuple(conf.get("aliases", ())),
        description=conf.get("description", ""),
        timeout_s=conf.get("timeout_s"),
    )
