"""Image generation through litellm, behind our own small interface: one prompt in, PNG bytes out.

One call makes one image (a job step), so a retried step never pays for images it already has. A
provider failure becomes ImageFailed with `retryable` decided by the gateway's classifier (rate
limits, timeouts, 5xx: retry; refusals, bad requests, bad keys: do not). Providers that answer with
a URL instead of base64 are fetched once.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from shared.catalog.media import ImageModel
from shared.gateway.errors import MediaFailed
from shared.gateway.lazy import load_litellm
from shared.gateway.types import provider_args

if TYPE_CHECKING:
    from shared.gateway.openai_sdk import NoRetryOpenAI

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ImageFailed(MediaFailed):
    code = "image_generation_failed"


class ImageGenerator(Protocol):
    async def generate(self, model: ImageModel, prompt: str, size: str) -> bytes:
        """One image as PNG bytes; raises ImageFailed."""
        ...


class LitellmImages:
    def __init__(self, timeout_s: float = 120.0) -> None:
        self._timeout_s = timeout_s
        self._clients: dict[tuple[str | None, str | None], NoRetryOpenAI] = {}

    def _openai_client(self, model: ImageModel) -> NoRetryOpenAI:
        """A client that never retries by itself; a failed step is retried by Cloud Tasks instead, which
        counts the attempts and stops at settings.jobs_max_attempts."""
        key = (model.api_base, model.api_key)
        client = self._clients.get(key)
        if client is None:
            # The key is the provider's, read through the secret source by the catalog; a provider
            # without one (an open endpoint) still needs a non-empty string for the SDK.
            from shared.gateway.openai_sdk import NoRetryOpenAI  # the SDK is loaded on first use

            client = NoRetryOpenAI(model.api_key or "unset", model.api_base, self._timeout_s)
            self._clients[key] = client
        return client

    async def generate(self, model: ImageModel, prompt: str, size: str) -> bytes:
        kwargs: dict[str, Any] = {**provider_args(model), "drop_params": True}
        if model.litellm_model.startswith("openai/"):
            kwargs["client"] = self._openai_client(model)
        if not model.litellm_model.startswith("openai/gpt-image"):
            kwargs["response_format"] = (
                "b64_json"  # gpt-image models always answer base64 and refuse the field
            )
        try:
            response = await (await load_litellm()).aimage_generation(
                prompt=prompt, model=model.litellm_model, n=1, size=size, timeout=self._timeout_s, **kwargs
            )
            data = list(getattr(response, "data", None) or [])
            if not data:
                raise ImageFailed("The image provider answered without an image.", retryable=True)
            return await self._bytes(data[0])
        except ImageFailed:
            raise
        except Exception as exc:
            raise ImageFailed.classified(exc, "The image provider failed") from exc

    async def _bytes(self, item: Any) -> bytes:
        b64 = item.get("b64_json") if isinstance(item, dict) else getattr(item, "b64_json", None)
        url = item.get("url") if isinstance(item, dict) else getattr(item, "url", None)
        if b64:
            png = base64.b64decode(b64)
        elif url:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.get(url)
                response.raise_for_status()
                png = response.content
        else:
            raise ImageFailed("The image provider answered without image data.", retryable=True)
        if not png.startswith(PNG_MAGIC):
            raise ImageFailed("The image provider answered something that is not a PNG.", retryable=False)
        return png
