"""A scripted OpenAI-compatible speech-to-text provider: POST /v1/audio/transcriptions (multipart, as the
OpenAI SDK under litellm sends it) answers `{"text": "[<milliseconds of audio>ms]"}`, so a test knows
exactly what each window and the whole should read. The model `broken` always answers 500.
`calls` logs (model, milliseconds) of every request.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import threading
import wave

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def pcm_seconds(seconds: float, sample_rate: int = 16000, channels: int = 1) -> bytes:
    """`seconds` of a quiet 16-bit tone, as raw PCM."""
    frames = int(seconds * sample_rate)
    sample = (1000).to_bytes(2, "little", signed=True) + (-1000).to_bytes(2, "little", signed=True)
    return (sample * (frames * channels // 2 + 1))[: frames * channels * 2]


def text_for(milliseconds: int) -> str:
    return f"[{milliseconds}ms]"


class FakeTranscription:
    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.Lock()
        self.calls: list[tuple[str, int]] = []
        self.app = Starlette(routes=[Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"])])

    def calls_for(self, model: str) -> list[int]:
        with self._lock:
            return [ms for m, ms in self.calls if m == model]

    async def _transcribe(self, request: Request) -> JSONResponse:
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + await request.body())
        fields: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload
        model = fields.get("model", b"").decode()
        with wave.open(io.BytesIO(fields["file"]), "rb") as reader:
            milliseconds = round(reader.getnframes() * 1000 / reader.getframerate())
        with self._lock:
            self.calls.append((model, milliseconds))
        if model == "broken":
            return JSONResponse({"error": {"message": "scripted failure", "type": "server_error"}}, 500)
        return JSONResponse({"text": text_for(milliseconds)})
