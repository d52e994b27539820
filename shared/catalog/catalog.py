"""The model catalog: a TOML file of providers, models, their deployments and prices.

Prices are credits per million tokens. A model is served by one or more deployments (a provider,
its litellm model string, optionally its own api_base and key, and that key's RPM/TPM limits); a
model without a `[[models.deployments]]` list has one deployment built from its own `provider` and
`litellm_model`. Only deployments whose provider (and key override) is configured are used, and a
model is listed only when at least one of its deployments is. Adding a model, a deployment or a
key is an edit of the file (or of the secrets), never code.

A model may name `fallbacks` (ids or aliases) tried in order when all its deployments fail, and
override the per-attempt `timeouts` and `max_attempts` of the gateway. The `[auto]` table
configures the `auto` model (shared/gateway/auto.py).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.adapters.secrets import SecretSource
from shared.errors import NotFound
from shared.settings import Settings

PER_MILLION = 1_000_000
CREDITS_PER_USD = 1_000_000  # 1 credit = 1 micro-USD


def usd(credits: int) -> float:
    """The price in US dollars of `credits` (answers carry both, as OpenRouter's `usage.cost` does)."""
    return credits / CREDITS_PER_USD


# What the hold counts for one image in the prompt when the catalog does not say (`image_input_tokens`):
# about the most a provider charges for one full-size image. Anthropic: width x height / 750, about 1,600
# for its largest unresized image (1.15 megapixels); OpenAI's high detail: 85 + 170 per 512-px tile, 765
# for 1024x1024 and 1,105 for 2048x768; Gemini: 258 per 768x768 tile. Settling uses the provider's usage.
DEFAULT_IMAGE_TOKENS = 1_600

# What a model accepts beyond text in and text out (`capabilities = [...]` in the catalog); a request
# that needs one the model lacks is refused before anything is reserved.
CAPABILITIES = frozenset(
    {
        "tools",  # tools / tool_choice / functions, assistant tool_calls and role "tool" messages
        "parallel_tool_calls",  # several tool calls in one answer
        "images",  # image_url content parts
        "audio_in",  # input_audio content parts
        "files",  # file content parts (PDF and the like)
        "response_format",  # response_format json_object
        "json_schema",  # response_format json_schema (strict)
        "logprobs",  # logprobs / top_logprobs
    }
)


@dataclass(frozen=True)
class Provider:
    name: str
    api_base: str | None
    api_key: str | None
    available: bool
    # Extra litellm arguments, e.g. vertex_project / vertex_location for Vertex AI.
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Timeouts:
    """Per-attempt limits in seconds; None means "use the gateway's default"."""

    connect_s: float | None = None
    first_token_s: float | None = None
    idle_s: float | None = None
    total_s: float | None = None


@dataclass(frozen=True)
class Deployment:
    """One place a model can be called: a provider, a model string, a key, and that key's limits."""

    id: str  # "<model>@<provider>#<n>", stable while the file keeps its order
    model: str
    provider: str
    litellm_model: str
    api_base: str | None = None
    api_key: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    params: tuple[tuple[str, str], ...] = ()
    enabled: bool = True  # False when it names its own key secret and that secret is not set


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
    # Provider prompt caching: credits per million cached input tokens read / written (default: input).
    cache_read_price: int | None = None
    cache_write_price: int | None = None
    fallbacks: tuple[str, ...] = ()
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_attempts: int | None = None
    capabilities: frozenset[str] = frozenset()
    image_input_tokens: int = DEFAULT_IMAGE_TOKENS  # the hold's estimate per image in the prompt

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def read_price(self) -> int:
        return self.input_price if self.cache_read_price is None else self.cache_read_price

    @property
    def write_price(self) -> int:
        return self.input_price if self.cache_write_price is None else self.cache_write_price

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> int:
        """Credits for a call, rounded up: a call that used anything costs at least one credit.

        `input_tokens` are the uncached prompt tokens; cached ones are priced at the cache rates.
        """
        micro = (
            input_tokens * self.input_price
            + output_tokens * self.output_price
            + cache_read * self.read_price
            + cache_write * self.write_price
        )
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
    deployments: dict[str, list[Deployment]] = field(default_factory=dict)
    auto: dict[str, Any] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.models.values():
            for name in (spec.id, *spec.aliases):
                self._names[name.lower()] = spec.id
            if spec.id not in self.deployments:
                self.deployments[spec.id] = [_own_deployment(spec, self.providers.get(spec.provider))]

    @classmethod
    def load(cls, settings: Settings, secrets: SecretSource, path: Path | None = None) -> Catalog:
        raw = tomllib.loads(Path(path or settings.catalog_path).read_text())
        providers = {
            name: _provider(name, conf, settings, secrets) for name, conf in raw.get("providers", {}).items()
        }
        models: dict[str, ModelSpec] = {}
        deployments: dict[str, list[Deployment]] = {}
        for conf in raw.get("models", []):
            spec = _model(conf)
            listed = conf.get("deployments") or [{}]
            deployments[spec.id] = [_deployment(spec, i, d, providers, secrets) for i, d in enumerate(listed)]
            models[spec.id] = spec
        default = settings.default_model or raw.get("default_model")
        return cls(providers, models, default, deployments, dict(raw.get("auto", {})))

    def is_available(self, spec: ModelSpec) -> bool:
        return bool(self.live_deployments(spec))

    def available(self) -> list[ModelSpec]:
        return [m for m in self.models.values() if self.is_available(m)]

    def live_deployments(self, spec: ModelSpec) -> list[Deployment]:
        """The deployments of a model whose provider and key are configured."""
        out = []
        for d in self.deployments.get(spec.id, []):
            provider = self.providers.get(d.provider)
            if provider is not None and provider.available and d.enabled:
                out.append(d)
        return out

    def find(self, name: str) -> ModelSpec | None:
        """The available model for an id or alias, or None."""
        model_id = self._names.get(name.lower())
        spec = self.models.get(model_id) if model_id else None
        return spec if spec is not None and self.is_available(spec) else None

    def fallbacks(self, spec: ModelSpec) -> list[ModelSpec]:
        """The model's available fallbacks, in order, without repeats or the model itself."""
        out: list[ModelSpec] = []
        for name in spec.fallbacks:
            other = self.find(name)
            if other is not None and other.id != spec.id and other not in out:
                out.append(other)
        return out

    def resolve(self, name: str | None) -> tuple[ModelSpec, Provider]:
        """The model for a name or alias (or the default), if one of its deployments is configured."""
        if not name:
            name = self.default_model or next((m.id for m in self.available()), None)
            if name is None:
                raise UnknownModel("No model is configured: add a provider key (see README).")
        spec = self.find(name)
        if spec is None:
            raise UnknownModel(
                f"The model '{name}' does not exist or is not enabled; GET /v1/models lists them."
            )
        first = self.live_deployments(spec)[0]
        return spec, self.providers[first.provider]


def _lookup(name: str, settings: Settings, secrets: SecretSource) -> str | None:
    # A name that is also a setting (LOCAL_MODEL_URL, VERTEX_PROJECT) is read from the settings object;
    # any other from the secret source (OPENAI_COMPATIBLE_URL: the environment locally, Secret Manager
    # in the cloud, where an environment variable of that name still wins).
    if hasattr(settings, name.lower()):
        value = getattr(settings, name.lower())
        return None if value is None else str(value)
    return secrets.get(name)


def _provider(name: str, conf: dict[str, Any], settings: Settings, secrets: SecretSource) -> Provider:
    api_base = conf.get("api_base")
    if conf.get("api_base_env"):
        api_base = _lookup(str(conf["api_base_env"]), settings, secrets)
    key_name = conf.get("key")
    api_key = conf.get("api_key") or (secrets.get(key_name) if key_name else None)
    params = {k: str(v) for k, v in conf.get("params", {}).items()}
    missing_param = False
    for param, env_name in conf.get("params_env", {}).items():
        value = _lookup(str(env_name), settings, secrets)
        if value is None:
            missing_param = True
        else:
            params[param] = value
    needs_key = key_name is not None
    needs_base = "api_base_env" in conf
    available = (
        (api_key is not None or not needs_key)
        and (api_base is not None or not needs_base)
        and not missing_param
        and bool(conf.get("enabled", True))
    )
    return Provider(name, api_base, api_key, available, tuple(sorted(params.items())))


def _own_deployment(spec: ModelSpec, provider: Provider | None) -> Deployment:
    return Deployment(
        id=f"{spec.id}@{spec.provider}#0",
        model=spec.id,
        provider=spec.provider,
        litellm_model=spec.litellm_model,
        api_base=provider.api_base if provider else None,
        api_key=provider.api_key if provider else None,
        params=provider.params if provider else (),
    )


def _deployment(
    spec: ModelSpec, index: int, conf: dict[str, Any], providers: dict[str, Provider], secrets: SecretSource
) -> Deployment:
    provider_name = conf.get("provider", spec.provider)
    provider = providers.get(provider_name)
    if provider is None:
        raise ValueError(f"model {spec.id} names unknown provider {provider_name}")
    params = {**dict(provider.params), **{k: str(v) for k, v in conf.get("params", {}).items()}}
    api_key = provider.api_key
    enabled = True
    if conf.get("key"):
        api_key = secrets.get(str(conf["key"]))
        enabled = api_key is not None
    if conf.get("api_key"):
        api_key = str(conf["api_key"])
    return Deployment(
        id=f"{spec.id}@{provider_name}#{index}",
        model=spec.id,
        provider=provider_name,
        litellm_model=conf.get("litellm_model", spec.litellm_model),
        api_base=conf.get("api_base", provider.api_base),
        api_key=api_key,
        rpm=_opt_int(conf.get("rpm")),
        tpm=_opt_int(conf.get("tpm")),
        params=tuple(sorted(params.items())),
        enabled=enabled or bool(conf.get("api_key")),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _model(conf: dict[str, Any]) -> ModelSpec:
    deployments = conf.get("deployments") or []
    provider = conf.get("provider") or (deployments[0].get("provider") if deployments else None)
    first = deployments[0] if deployments else {}
    litellm_model = conf.get("litellm_model") or first.get("litellm_model")
    if provider is None or litellm_model is None:
        raise ValueError(f"model {conf.get('id')} needs a provider and litellm_model (or deployments)")
    t = conf.get("timeouts", {})
    return ModelSpec(
        id=conf["id"],
        provider=provider,
        litellm_model=litellm_model,
        input_price=int(conf["input_price"]),
        output_price=int(conf["output_price"]),
        context_window=int(conf["context_window"]),
        max_output_tokens=int(conf["max_output_tokens"]),
        aliases=tuple(conf.get("aliases", ())),
        description=conf.get("description", ""),
        timeout_s=conf.get("timeout_s"),
        cache_read_price=_opt_int(conf.get("cache_read_price")),
        cache_write_price=_opt_int(conf.get("cache_write_price")),
        fallbacks=tuple(conf.get("fallbacks", ())),
        timeouts=Timeouts(
            connect_s=t.get("connect_s"),
            first_token_s=t.get("first_token_s"),
            idle_s=t.get("idle_s"),
            total_s=t.get("total_s", conf.get("timeout_s")),
        ),
        max_attempts=_opt_int(conf.get("max_attempts")),
        capabilities=_capabilities(conf),
        image_input_tokens=int(conf.get("image_input_tokens", DEFAULT_IMAGE_TOKENS)),
    )


def _capabilities(conf: dict[str, Any]) -> frozenset[str]:
    names = frozenset(str(c) for c in conf.get("capabilities", ()))
    unknown = names - CAPABILITIES
    if unknown:
        raise ValueError(f"model {conf.get('id')} names unknown capabilities {sorted(unknown)}")
    return names
