"""Text to speech through litellm (`litellm.aspeech`), behind our own small interface: text in, the
provider's audio bytes out as they arrive.

What litellm 1.106.2 does with the body: `aspeech` returns an `HttpxBinaryResponseContent` (an httpx
response), and for OpenAI it gets it from the SDK's `audio.speech.create`, which reads the whole clip
before returning; no litellm provider path streams speech (litellm issue #33974). So for OpenAI-wire
models (`openai/...`) we hand litellm our own SDK client (`StreamingSpeechOpenAI`) whose `create`
returns once the provider has answered, body unread: litellm still builds the call, maps parameters
and translates errors, and we read `response.aiter_bytes()` as the provider produces the audio. Other
providers (Gemini through litellm's speech-to-chat bridge, Vertex, ElevenLabs, ...) come back whole and
are relayed in chunks: same bytes, later first byte.

A failure before the provider answered raises our typed error (shared/gateway/errors.py `translate`);
one while the body flows raises SpeechCut.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from shared.catalog.speech import SpeechModel
from shared.errors import UpstreamError
from shared.gateway.errors import translate
from shared.gateway.lazy import load_litellm
from shared.gateway.types import provider_args

if TYPE_CHECKING:
    from shared.gateway.openai_sdk import StreamingSpeechOpenAI

log = logging.getLogger("gateway.speech")

# One quick retry before the provider answered (nothing was sent to anyone yet); none after.
MAX_RETRIES = 1
# A body that arrived whole (providers that do not stream) is relayed in pieces of this size.
RELAY_CHUNK = 64 * 1024


@dataclass(frozen=True)
class SpeechRequest:
    input: str
    voice: str
    response_format: str
    speed: float | None = None
    instructions: str | None = None


class SpeechCut(UpstreamError):
    """The provider's audio stopped before its end (connection lost, idle too long)."""

    code = "speech_interrupted"


class AudioStream(Protocol):
    def chunks(self) -> AsyncIterator[bytes]:
        """The audio as it arrives; raises SpeechCut when the provider stops sending midway."""
        ...

    async def aclose(self) -> None:
        """Stop reading and free the connection (safe to call twice)."""
        ...


class Speaker(Protocol):
    async def open(self, model: SpeechModel, request: SpeechRequest) -> AudioStream:
        """Ask the provider for the audio; returns once it answered. Raises AppError (the provider
        refused or failed: nothing was produced)."""
        ...


class LitellmAudio:
    def __init__(self, response: httpx.Response, provider: str) -> None:
        self._response = response
        self._provider = provider

    async def chunks(self) -> AsyncIterator[bytes]:
        size = RELAY_CHUNK if _already_read(self._response) else None  # None: as the network gives them
        try:
            async for chunk in self._response.aiter_bytes(size):
                if chunk:
                    yield chunk
        except httpx.HTTPError as exc:
            log.warning("speech cut", extra={"provider": self._provider, "error_type": type(exc).__name__})
            raise SpeechCut(
                f"The provider '{self._provider}' stopped sending the audio midway "
                f"({type(exc).__name__}); nothing was charged. Retry."
            ) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class LitellmSpeech:
    def __init__(self, connect_s: float = 10.0, idle_s: float = 60.0, timeout_s: float = 120.0) -> None:
        self._connect_s = connect_s
        self._idle_s = idle_s
        self._timeout_s = timeout_s
        self._clients: dict[tuple[str | None, str | None], StreamingSpeechOpenAI] = {}

    def _openai_client(self, model: SpeechModel) -> StreamingSpeechOpenAI:
        key = (model.api_base, model.api_key)
        client = self._clients.get(key)
        if client is None:
            # A provider without a key (an open endpoint) still needs a non-empty string for the SDK.
            from shared.gateway.openai_sdk import StreamingSpeechOpenAI  # the SDK is loaded on first use

            client = StreamingSpeechOpenAI(
                model.api_key or "unset", model.api_base, self._connect_s, self._idle_s
            )
            self._clients[key] = client
        return client

    async def open(self, model: SpeechModel, request: SpeechRequest) -> LitellmAudio:
        kwargs: dict[str, Any] = provider_args(model)
        if model.litellm_model.startswith("openai/"):
            kwargs["client"] = self._openai_client(model)
        if request.speed is not None:
            kwargs["speed"] = request.speed
        if request.instructions:
            kwargs["instructions"] = request.instructions
        try:
            response = await (await load_litellm()).aspeech(
                model=model.litellm_model,
                input=request.input,
                voice=request.voice,
                response_format=request.response_format,
                timeout=self._timeout_s,
                max_retries=MAX_RETRIES,
                **kwargs,
            )
        except Exception as exc:
            raise translate(exc, model.provider) from exc
        return LitellmAudio(response.response, model.provider)


def _already_read(response: httpx.Response) -> bool:
    try:
        response.content  # noqa: B018 - raises ResponseNotRead while the body is still on the wire
    except httpx.ResponseNotRead:
        return False
    return True
