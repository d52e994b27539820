"""A scripted OpenAI-compatible text-to-speech provider: POST /v1/audio/speech (JSON, as the OpenAI SDK
under litellm sends it) answers the audio `audio_for(input, format)` in CHUNKS pieces, waiting between
them, so a test knows the exact bytes and can tell streamed from buffered.

The model name scripts the answer:
- `slow`: SLOW_DELAY_S between pieces (for streaming and disconnect tests);
- `broken`: 500 before any byte;
- `cut`: two pieces, then the connection is dropped mid-body;
- anything else: FAST_DELAY_S between pieces.

`calls` logs every request: its JSON body, when it started, when its last piece was sent (or None when
the reader went away or it was cut), all on time.monotonic() of this process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

CHUNKS = 4
CHUNK_BYTES = 8192
FAST_DELAY_S = 0.02
SLOW_DELAY_S = 0.5
MAGIC = {
    "mp3": b"ID3",
    "opus": b"OggS",
    "aac": b"\xff\xf1",
    "flac": b"fLaC",
    "wav": b"RIFF\x00\x00\x00\x00WAVE",
    "pcm": b"",
}
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def audio_for(text: str, response_format: str = "mp3") -> list[bytes]:
    """The pieces the fake sends for `text`: the format's magic first, then the text over and over."""
    pieces = []
    for i in range(CHUNKS):
        head = MAGIC[response_format] if i == 0 else b""
        filler = f"[{i}]{text}".encode()
        body = (filler * (CHUNK_BYTES // max(1, len(filler)) + 1))[: CHUNK_BYTES - len(head)]
        pieces.append(head + body)
    return pieces


@dataclass
class SpeechCall:
    body: dict[str, Any]
    started: float
    finished: float | None = None
    pieces_sent: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class FakeSpeech:
    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.Lock()
        self.calls: list[SpeechCall] = []
        self.app = Starlette(routes=[Route("/v1/audio/speech", self._speech, methods=["POST"])])

    def calls_for(self, text: str) -> list[SpeechCall]:
        with self._lock:
            return [c for c in self.calls if c.body.get("input") == text]

    async def _speech(self, request: Request) -> Response:
        body = await request.json()
        call = SpeechCall(body, time.monotonic(), headers=dict(request.headers))
        with self._lock:
            self.calls.append(call)
        model = body.get("model")
        if model == "broken":
            return JSONResponse({"error": {"message": "scripted failure", "type": "server_error"}}, 500)
        fmt = body.get("response_format") or "mp3"
        pieces = audio_for(body["input"], fmt)
        delay = SLOW_DELAY_S if model == "slow" else FAST_DELAY_S
        cut = model == "cut"
        return StreamingResponse(self._send(call, pieces, delay, cut), media_type=CONTENT_TYPES[fmt])

    async def _send(
        self, call: SpeechCall, pieces: list[bytes], delay: float, cut: bool
    ) -> AsyncIterator[bytes]:
        for i, piece in enumerate(pieces):
            if i:
                await asyncio.sleep(delay)
            if cut and i == 2:
                raise ConnectionAbortedError("scripted cut mid-body")  # uvicorn drops the connection
            yield piece
            call.pieces_sent = i + 1
        call.finished = time.monotonic()
