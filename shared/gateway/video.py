"""Video generation through litellm (1.106.2: `avideo_generation`, `avideo_status`, `avideo_content`),
behind our own small interface: submit a long-running operation, ask how it is doing, download it.

litellm speaks each provider's shape: OpenAI Sora (`POST /v1/videos`, `GET /v1/videos/{id}`, `GET
/v1/videos/{id}/content`), Gemini Veo (`:predictLongRunning`, then the operation) and Vertex Veo
(`:predictLongRunning`, `:fetchPredictOperation`). The operation id it returns encodes the provider and
model, so status and content calls need only that id and the provider's key and api_base. Nothing here
waits: the job polls by scheduling its step again (shared/jobs/video_job.py).

A failure becomes VideoFailed with `retryable` decided by the gateway's classifier (rate limits,
timeouts, 5xx: retry; refusals, bad requests, bad keys: do not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from shared.catalog.media import VideoModel
from shared.gateway.errors import MediaFailed
from shared.gateway.lazy import load_litellm
from shared.gateway.types import provider_args

VideoState = Literal["pending", "completed", "failed"]
DONE = {"completed", "succeeded"}
FAILED = {"failed", "cancelled", "canceled", "expired"}


class VideoFailed(MediaFailed):
    code = "video_generation_failed"


@dataclass(frozen=True)
class VideoStatus:
    state: VideoState
    progress: int | None = None
    error: str | None = None


class VideoGenerator(Protocol):
    async def submit(self, model: VideoModel, prompt: str, seconds: int, size: str) -> str:
        """Start generating; the operation id to poll. Raises VideoFailed."""
        ...

    async def status(self, model: VideoModel, operation: str) -> VideoStatus: ...

    async def content(self, model: VideoModel, operation: str) -> bytes:
        """The finished video's bytes (MP4)."""
        ...


class LitellmVideos:
    def __init__(self, timeout_s: float = 120.0) -> None:
        self._timeout_s = timeout_s

    def _kwargs(self, model: VideoModel) -> dict[str, Any]:
        return {**provider_args(model), "timeout": self._timeout_s}

    async def submit(self, model: VideoModel, prompt: str, seconds: int, size: str) -> str:
        try:
            video = await (await load_litellm()).avideo_generation(
                prompt=prompt,
                model=model.litellm_model,
                seconds=str(seconds),
                size=size,
                **self._kwargs(model),
            )
        except Exception as exc:
            raise _failed(exc, "submitting the video") from exc
        if not getattr(video, "id", None):
            raise VideoFailed("The video provider answered without an operation id.", retryable=True)
        if str(video.status).lower() in FAILED:
            raise VideoFailed(_reason(video.error), retryable=False)
        return str(video.id)

    async def status(self, model: VideoModel, operation: str) -> VideoStatus:
        try:
            video = await (await load_litellm()).avideo_status(video_id=operation, **self._kwargs(model))
        except Exception as exc:
            raise _failed(exc, "checking the video") from exc
        status = str(video.status).lower()
        if status in DONE:
            return VideoStatus("completed", 100)
        if status in FAILED:
            return VideoStatus("failed", video.progress, _reason(video.error))
        return VideoStatus("pending", video.progress)

    async def content(self, model: VideoModel, operation: str) -> bytes:
        try:
            data = await (await load_litellm()).avideo_content(video_id=operation, **self._kwargs(model))
        except Exception as exc:
            raise _failed(exc, "downloading the video") from exc
        if not data:
            raise VideoFailed("The video provider answered an empty video.", retryable=True)
        return bytes(data)


def _failed(exc: Exception, doing: str) -> VideoFailed:
    return VideoFailed.classified(exc, f"The video provider failed while {doing}")


def _reason(error: dict[str, Any] | None) -> str:
    message = (error or {}).get("message") if isinstance(error, dict) else None
    return f"The video provider could not make this video: {message or 'no reason given'}."
