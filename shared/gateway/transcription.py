"""Speech to text through litellm (`litellm.atranscription`), behind our own small interface: a WAV file
in, its text out. The speech-to-text stream (shared/audio/stream.py) calls it once per window of audio
for partial transcripts and once for the whole at the end.

A provider failure becomes TranscriptionFailed (kind from the gateway's classifier); the stream then
ends with an error and nobody is charged.
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.catalog.audio import TranscriptionModel
from shared.errors import UpstreamError
from shared.gateway.lazy import load_litellm
from shared.gateway.retry import classify
from shared.gateway.types import provider_args

# One quick retry inside the call (the OpenAI client's backoff); the stream cannot wait for more.
MAX_RETRIES = 1


class TranscriptionFailed(UpstreamError):
    code = "transcription_failed"

    def __init__(self, message: str, *, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


class Transcriber(Protocol):
    async def transcribe(self, model: TranscriptionModel, wav: bytes, language: str | None) -> str:
        """The text spoken in a WAV file; raises TranscriptionFailed."""
        ...


class LitellmTranscriber:
    def __init__(self, timeout_s: float = 120.0) -> None:
        self._timeout_s = timeout_s

    async def transcribe(self, model: TranscriptionModel, wav: bytes, language: str | None) -> str:
        kwargs: dict[str, Any] = {**provider_args(model), "drop_params": True}
        if language:
            kwargs["language"] = language
        try:
            response = await (await load_litellm()).atranscription(
                model=model.litellm_model,
                file=("audio.wav", wav, "audio/wav"),
                timeout=self._timeout_s,
                max_retries=MAX_RETRIES,
                **kwargs,
            )
        except Exception as exc:
            failure = classify(exc)
            raise TranscriptionFailed(
                f"The speech-to-text provider failed ({failure.kind}); try again.", kind=failure.kind
            ) from exc
        text = getattr(response, "text", None)
        if not isinstance(text, str):
            raise TranscriptionFailed("The speech-to-text provider answered without text; try again.")
        return text.strip()
