"""The OpenAI SDK, reached only from here: litellm's exceptions derive from the SDK's (the classifier in
retry.py tests a few by their SDK base), image calls go through an SDK client of ours that never
retries by itself, and speech calls through one that leaves the audio unread so it can be streamed.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, cast

import httpx
from openai import APIConnectionError, APITimeoutError, AsyncOpenAI
from openai._constants import RAW_RESPONSE_HEADER
from openai._legacy_response import HttpxBinaryResponseContent
from openai._response import AsyncAPIResponse
from openai.resources.audio import AsyncAudio, AsyncSpeech

__all__ = ["APIConnectionError", "APITimeoutError", "NoRetryOpenAI", "StreamingSpeechOpenAI"]


class NoRetryOpenAI(AsyncOpenAI):
    """litellm 1.106.2 drops `max_retries` for image calls and sets the client's to 2, so the OpenAI SDK
    would try every step three times: this client's retry count stays 0 whatever is set."""

    def __init__(self, api_key: str, base_url: str | None, timeout_s: float) -> None:
        super().__init__(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)

    @property  # type: ignore[override]
    def max_retries(self) -> int:
        return 0

    @max_retries.setter
    def max_retries(self, _value: int) -> None:
        pass


class _UnreadSpeech(AsyncSpeech):
    """`audio.speech.create` that returns once the provider's status and headers are in, the body unread.

    litellm 1.106.2's `aspeech` calls `client.audio.speech.create(...)` and wraps its `.response`; the
    SDK's plain `create` reads the whole body first (the clip is complete before anyone gets a byte).
    Sending the SDK's raw-response header with "stream" (what `with_streaming_response` does) makes it
    return the response unread; a provider error is still raised (and read) before anything returns."""

    async def create(self, **kwargs: Any) -> HttpxBinaryResponseContent:  # type: ignore[override]
        headers = {**(kwargs.pop("extra_headers", None) or {}), RAW_RESPONSE_HEADER: "stream"}
        raw = cast(AsyncAPIResponse[Any], await super().create(**kwargs, extra_headers=headers))
        return HttpxBinaryResponseContent(raw.http_response)


class _StreamingAudio(AsyncAudio):
    @cached_property
    def speech(self) -> AsyncSpeech:
        return _UnreadSpeech(self._client)


class StreamingSpeechOpenAI(AsyncOpenAI):
    """An OpenAI client for litellm's speech calls whose audio body is left to read as it arrives
    (`response.aiter_bytes()`); whoever reads it closes it. Timeouts: `connect_s` to connect, `idle_s`
    for the first byte and between any two reads."""

    def __init__(self, api_key: str, base_url: str | None, connect_s: float, idle_s: float) -> None:
        timeout = httpx.Timeout(idle_s, connect=connect_s)
        super().__init__(api_key=api_key, base_url=base_url, max_retries=1, timeout=timeout)

    @cached_property
    def audio(self) -> AsyncAudio:
        return _StreamingAudio(self)
