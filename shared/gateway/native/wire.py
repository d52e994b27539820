"""Which deployments speak OpenAI's wire format, and where and how to call them.

A deployment is on the native lane when its litellm model string names an OpenAI-wire provider
(`openai/` with or without its own api_base: OpenAI, the local llama.cpp server, OPENAI_COMPATIBLE_URL;
`xai/`, `deepseek/`, `openrouter/`, `groq/`, `together_ai/`, `fireworks_ai/`) and litellm would send our
parameters through unchanged. Left to litellm: deployments with extra provider parameters, and OpenAI's
reasoning models (o-series, gpt-5, codex), whose parameters litellm rewrites (max_completion_tokens,
temperature rules).

Which sampling parameters a model accepts is litellm's answer (`get_supported_openai_params`), taken
from params.json, which scripts/native_params.py writes from litellm at build time (so a native call
never imports litellm); like litellm's drop_params, the native lane drops the others. A model missing
from the table is asked of litellm itself, once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from shared.catalog.catalog import Deployment

# The default endpoint of each provider, as litellm 1.106.2 has it (a deployment's api_base wins).
DEFAULT_BASES = {
    "openai": "https://api.openai.com/v1",
    "xai": "https://api.x.ai/v1",
    "deepseek": "https://api.deepseek.com/beta",
    "openrouter": "https://openrouter.ai/api/v1",
    "groq": "https://api.groq.com/openai/v1",
    "together_ai": "https://api.together.xyz/v1",
    "fireworks_ai": "https://api.fireworks.ai/inference/v1",
}
_REWRITTEN = re.compile(r"^(o\d|gpt-5|codex)", re.IGNORECASE)
# Hosted endpoints that refuse Anthropic-style `cache_control` fields (litellm strips them there);
# a self-hosted OpenAI-compatible server gets them as sent.
_HOSTED = ("api.openai.com", "api.x.ai", "api.deepseek.com", "api.groq.com", "api.together.xyz")


@dataclass(frozen=True)
class Wire:
    """How to call one deployment natively."""

    url: str  # .../chat/completions
    model: str  # the provider's model name
    headers: tuple[tuple[str, str], ...]
    supported: frozenset[str]  # the request parameters the model accepts
    strip_cache_control: bool


def native_name(deployment: Deployment, providers: frozenset[str]) -> tuple[str, str] | None:
    """(provider, the provider's model name) when `deployment` goes on the native lane, else None."""
    prefix, _, model = deployment.litellm_model.partition("/")
    if prefix not in providers or prefix not in DEFAULT_BASES or not model or deployment.params:
        return None
    if prefix == "openai" and _REWRITTEN.match(model):
        return None
    if prefix == "fireworks_ai" and not model.startswith("accounts/"):
        model = f"accounts/fireworks/models/{model}"
    return prefix, model


def needs_litellm(deployment: Deployment, providers: frozenset[str]) -> bool:
    """Whether working out `deployment`'s native call asks litellm (a model missing from the table)."""
    name = native_name(deployment, providers)
    return name is not None and from_table(name[1], name[0]) is None


def wire_for(deployment: Deployment, providers: frozenset[str]) -> Wire | None:
    """The native call for `deployment`, or None when it goes through litellm."""
    name = native_name(deployment, providers)
    if name is None:
        return None
    prefix, model = name
    base = (deployment.api_base or DEFAULT_BASES[prefix]).rstrip("/")
    headers = (
        ("authorization", f"Bearer {deployment.api_key or 'no-key'}"),
        ("content-type", "application/json"),
        ("accept", "text/event-stream, application/json"),
    )
    return Wire(
        url=f"{base}/chat/completions",
        model=model,
        headers=headers,
        supported=supported_params(model, prefix),
        strip_cache_control=any(host in base for host in _HOSTED),
    )


# Names litellm treats by pattern on `openai/` (its reasoning, audio, search and realtime families): a
# name like these that the table lacks is asked of litellm. Any other unknown name (a self-hosted model
# behind an OpenAI-compatible server: smollm2, llama-3-8b) gets litellm's answer for an unknown name;
# tests/unit/test_native_params.py checks that over every model name in litellm's price map.
OPENAI_LIKE = re.compile(
    r"^openai/|gpt|(^|[^a-z])o\d|codex|audio|search|realtime|computer-use|davinci|babbage", re.IGNORECASE
)


@cache
def _table() -> dict[str, dict[str, frozenset[str]]]:
    raw = json.loads((Path(__file__).with_name("params.json")).read_text())
    sets = [frozenset(names) for names in raw["sets"]]
    return {provider: {m: sets[i] for m, i in models.items()} for provider, models in raw["models"].items()}


@cache
def _unknown() -> dict[str, frozenset[str]]:
    raw = json.loads((Path(__file__).with_name("params.json")).read_text())
    return {provider: frozenset(raw["sets"][i]) for provider, i in raw["unknown"].items()}


def from_table(model: str, provider: str) -> frozenset[str] | None:
    """The model's parameters from the build-time table, or None when only litellm can say."""
    known = _table().get(provider, {}).get(model)
    if known is None and provider == "openai" and not OPENAI_LIKE.search(model):
        return _unknown()[provider]
    return known


@lru_cache(maxsize=512)
def supported_params(model: str, provider: str) -> frozenset[str]:
    """The OpenAI parameters `model` accepts on `provider`: from the build-time table, or for a model
    it lacks from litellm (imported then, if the start-up warm-up of shared/gateway/lazy.py has not)."""
    known = from_table(model, provider)
    if known is not None:
        return known
    from shared.gateway.lazy import litellm

    names = litellm().get_supported_openai_params(model=model, custom_llm_provider=provider) or []
    return frozenset(str(n) for n in names)
