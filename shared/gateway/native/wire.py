"""Which deployments speak OpenAI's wire format, and where and how to call them.

A deployment is on the native lane when its litellm model string names an OpenAI-wire provider
(`openai/` with or without its own api_base: OpenAI, the local llama.cpp server, OPENAI_COMPATIBLE_URL;
`xai/`, `deepseek/`, `openrouter/`, `groq/`, `together_ai/`, `fireworks_ai/`) and litellm would send our
parameters through unchanged. Left to litellm: deployments with extra provider parameters, and OpenAI's
reasoning models (o-series, gpt-5, codex), whose parameters litellm rewrites (max_completion_tokens,
temperature rules).

Which sampling parameters a model accepts is litellm's table (`get_supported_openai_params`), read once
per deployment: like litellm's drop_params, the native lane drops the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

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


def wire_for(deployment: Deployment, providers: frozenset[str]) -> Wire | None:
    """The native call for `deployment`, or None when it goes through litellm."""
    prefix, _, model = deployment.litellm_model.partition("/")
    if prefix not in providers or prefix not in DEFAULT_BASES or not model or deployment.params:
        return None
    if prefix == "openai" and _REWRITTEN.match(model):
        return None
    if prefix == "fireworks_ai" and not model.startswith("accounts/"):
        model = f"accounts/fireworks/models/{model}"
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


@lru_cache(maxsize=512)
def supported_params(model: str, provider: str) -> frozenset[str]:
    """litellm's list of the OpenAI parameters `model` accepts on `provider` (once per model). This is
    the one thing a native call still needs litellm for: the first call of a deployment imports it when
    the start-up warm-up (shared/gateway/lazy.py) has not yet."""
    from shared.gateway.lazy import litellm

    names = litellm().get_supported_openai_params(model=model, custom_llm_provider=provider) or []
    return frozenset(str(n) for n in names)
