"""The one adapter that calls model providers. Nothing else in the project imports litellm.

Retries, fallbacks and breakers belong here too (see the gateway issue); for now one attempt per
call, so a failure is reported at once and never charged.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

from shared.catalog.catalog import Catalog, ModelSpec, Provider
from shared.gateway.errors import translate
from shared.gateway.types import Completion, Delta, Usage
from shared.settings import Settings

litellm.suppress_debug_info = True
litellm.drop_params = True
litellm.telemetry = False

# Sampling parameters passed through unchanged when the client sets them.
PASSTHROUGH = ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "user")


class ModelStream:
    """An open upstream stream. Iterate for deltas; `usage` is set once the provider reports it."""

    def __init__(self, upstream: Any, provider: str) -> None:
        self._upstream = upstream
        self._iter = upstream.__aiter__()
        self._provider = provider
        self.usage: Usage | None = None

    def __aiter__(self) -> AsyncIterator[Delta]:
        return self._deltas()

    async def _deltas(self) -> AsyncIterator[Delta]:
        while True:
            try:
                chunk = await self._iter.__anext__()
            except StopAsyncIteration:
                return
            except Exception as exc:
                raise translate(exc, self._provider) from exc
            usage = getattr(chunk, "usage", None)
            if usage is not None and getattr(usage, "completion_tokens", None) is not None:
                self.usage = Usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0), True)
            for choice in chunk.choices or ():
                text = getattr(choice.delta, "content", None) or ""
                if text or choice.finish_reason:
                    yield Delta(text, choice.finish_reason)

    async def aclose(self) -> None:
        """Close the upstream connection: the provider sees the disconnect and stops generating."""
        close = getattr(self._upstream, "aclose", None)
        if close is not None:
            await close()


class Gateway:
    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings

    def count_prompt(self, spec: ModelSpec, messages: list[dict[str, Any]]) -> int:
        return int(litellm.token_counter(model=spec.litellm_model, messages=messages))

    def count_text(self, spec: ModelSpec, text: str) -> int:
        if not text:
            return 0
        return int(litellm.token_counter(model=spec.litellm_model, text=text, count_response_tokens=True))

    def _args(
        self,
        spec: ModelSpec,
        provider: Provider,
        messages: list[dict[str, Any]],
        max_tokens: int,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": spec.litellm_model,
            "messages": messages,
            "max_tokens": max_tokens,
            "timeout": spec.timeout_s or self.settings.provider_timeout_s,
            "num_retries": 0,
            "max_retries": 0,
        }
        if provider.api_base:
            args["api_base"] = provider.api_base
        args["api_key"] = provider.api_key or "no-key"
        args.update({k: v for k, v in params.items() if k in PASSTHROUGH and v is not None})
        return args

    async def complete(
        self,
        spec: ModelSpec,
        provider: Provider,
        messages: list[dict[str, Any]],
        max_tokens: int,
        params: dict[str, Any],
    ) -> Completion:
        try:
            response = await litellm.acompletion(**self._args(spec, provider, messages, max_tokens, params))
        except Exception as exc:
            raise translate(exc, provider.name) from exc
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = getattr(response, "usage", None)
        if usage is not None and usage.completion_tokens is not None:
            counted = Usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens), True)
        else:
            counted = Usage(self.count_prompt(spec, messages), self.count_text(spec, text), False)
        return Completion(text=text, finish_reason=choice.finish_reason, usage=counted)

    async def open_stream(
        self,
        spec: ModelSpec,
        provider: Provider,
        messages: list[dict[str, Any]],
        max_tokens: int,
        params: dict[str, Any],
    ) -> ModelStream:
        args = self._args(spec, provider, messages, max_tokens, params)
        args.update(stream=True, stream_options={"include_usage": True})
        try:
            upstream = await litellm.acompletion(**args)
        except Exception as exc:
            raise translate(exc, provider.name) from exc
        return ModelStream(upstream, provider.name)
