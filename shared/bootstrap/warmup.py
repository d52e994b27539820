"""Whether an API instance should import litellm in the background once it serves (LITELLM_WARMUP).

litellm costs ~2.75 s of CPU to import and ~150 MiB of memory. The native lane never needs it, so with
LITELLM_WARMUP=auto (the default) an instance warms it up only when something it has configured is
served through litellm: a chat deployment off the native lane (Anthropic, Gemini, Vertex, Bedrock, an
OpenAI reasoning model, a model missing from the native parameter table), an embedding, transcription
or text-to-speech model, guardrail moderation, or the semantic cache's embedder. `always` and `never`
force it either way; a call that needs litellm on an instance that did not warm it imports it then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.settings import Settings

if TYPE_CHECKING:
    from shared.bootstrap.api import Services


def litellm_users(services: Services, settings: Settings) -> list[str]:
    """What this instance has configured that is served through litellm (empty: nothing)."""
    found: list[str] = []
    catalog = services.gateway.catalog
    native = services.gateway.router.caller.native
    for spec in catalog.models.values():
        for deployment in catalog.live_deployments(spec):
            if native is None or native.wire(deployment) is None or native.needs_litellm(deployment):
                found.append(f"chat:{deployment.id}")
    found += [f"embeddings:{m.id}" for m in services.embeddings.catalog.available()]
    found += [f"transcription:{m.id}" for m in services.audio.models.values() if m.available]
    found += [f"speech:{m.id}" for m in services.speech.catalog.models.values() if m.available]
    moderation = catalog.providers.get(settings.moderation_provider)
    if settings.moderation_model is not None and moderation is not None and moderation.available:
        found.append("guardrails:moderation")
    if settings.semantic_cache_enabled:
        found.append("cache:semantic")
    return found


def should_warm(services: Services, settings: Settings) -> tuple[bool, list[str]]:
    """(warm litellm up?, why): LITELLM_WARMUP always / never / auto (when anything configured needs it)."""
    users = litellm_users(services, settings)
    if settings.litellm_warmup == "always":
        return True, users
    if settings.litellm_warmup == "never":
        return False, users
    return bool(users), users
