"""Images for providers that need their bytes: fetched by our guarded fetcher, never by litellm.

Through litellm, Gemini (AI Studio, `gemini/`) and Gemini on Vertex AI (`vertex_ai/`) do not take an
https image URL: litellm would download it from our servers with its own client. For those deployments
each distinct https `image_url` of the request is fetched here instead, with the research reader's
guarded fetcher (shared/jobs/research/reader.py `fetch_image`: every redirect hop's addresses must be
public and the connection goes to the checked address; bounded in time and to MAX_IMAGE_BYTES), checked
to be a PNG, JPEG, GIF or WEBP, and sent as a `data:` URL. An image that cannot be fetched is the
request's fault: a 400 `image_unreachable`, never retried, nothing charged (the attempt produced
nothing). Every other provider gets the URL unchanged.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Protocol

from shared.catalog.catalog import Deployment
from shared.errors import BadRequest
from shared.gateway.parts import sniff_image

NEEDS_BYTES = ("gemini/", "vertex_ai/")


class ImageFetcher(Protocol):
    async def fetch_image(self, url: str, max_bytes: int) -> bytes | None: ...


def needs_bytes(deployment: Deployment) -> bool:
    return deployment.litellm_model.startswith(NEEDS_BYTES)


def remote_images(messages: list[dict[str, Any]]) -> list[str]:
    """The distinct https image URLs of `messages`, in order."""
    urls: dict[str, None] = {}
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            url = _url(part)
            if url is not None and url.startswith("https://"):
                urls[url] = None
    return list(urls)


class ImageInliner:
    def __init__(self, fetcher: ImageFetcher | None, max_bytes: int) -> None:
        """Without a fetcher, a provider that needs bytes answers 400 for an https image URL."""
        self._fetcher = fetcher
        self._max_bytes = max_bytes

    async def prepare(self, deployment: Deployment, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`messages` as `deployment` needs them: https images inlined for the providers in NEEDS_BYTES."""
        if not needs_bytes(deployment):
            return messages
        urls = remote_images(messages)
        if not urls:
            return messages
        inlined = dict(zip(urls, await asyncio.gather(*(self._inline(url) for url in urls)), strict=True))
        out = []
        for message in messages:
            content = message.get("content")
            if isinstance(content, list):
                message = {**message, "content": [_replaced(part, inlined) for part in content]}
            out.append(message)
        return out

    async def _inline(self, url: str) -> str:
        shown = url if len(url) <= 200 else url[:200] + "..."
        if self._fetcher is None:
            raise BadRequest(
                f"This model needs the image's bytes: send {shown} as a data: URL.", code="image_unreachable"
            )
        body = await self._fetcher.fetch_image(url, self._max_bytes)
        if body is None:
            raise BadRequest(
                f"The image at {shown} could not be fetched (unreachable, not a public address, not an image "
                f"type or larger than {self._max_bytes} bytes); send it as a data: URL.",
                code="image_unreachable",
            )
        kind = sniff_image(body[:16])
        if kind is None:
            raise BadRequest(
                f"The file at {shown} is not a PNG, JPEG, GIF or WEBP image.", code="invalid_image"
            )
        return f"data:image/{kind};base64,{base64.b64encode(body).decode()}"


def _url(part: Any) -> str | None:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return None
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    return url if isinstance(url, str) else None


def _replaced(part: Any, inlined: dict[str, str]) -> Any:
    url = _url(part)
    if url is None or url not in inlined:
        return part
    return {**part, "image_url": {**part["image_url"], "url": inlined[url]}}
