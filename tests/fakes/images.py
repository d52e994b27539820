"""A scripted OpenAI-compatible image provider: POST /v1/images/generations answers a real tiny PNG.

Reached through litellm (the real adapter), like a provider would be. Scripts are keyed by a word in
the prompt, so tests running side by side do not disturb each other:
  `fail_first(word, k, status)`  the first k requests whose prompt contains `word` answer `status`
  `always(word, status)`         every such request answers `status`
  `delay(word, seconds)`         such requests answer after `seconds` (a step still running)
`calls(word)` counts the requests whose prompt contained `word`.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
import time
import zlib
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def tiny_png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A valid RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PNG = tiny_png()


class FakeImages:
    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._failures: dict[str, tuple[int, int]] = {}  # word -> (remaining, status); remaining < 0: always
        self._delays: dict[str, float] = {}
        self.app = Starlette(routes=[Route("/v1/images/generations", self._generate, methods=["POST"])])

    def fail_first(self, word: str, k: int, status: int = 500) -> None:
        with self._lock:
            self._failures[word] = (k, status)

    def always(self, word: str, status: int = 500) -> None:
        with self._lock:
            self._failures[word] = (-1, status)

    def delay(self, word: str, seconds: float) -> None:
        with self._lock:
            self._delays[word] = seconds

    def calls(self, word: str) -> int:
        with self._lock:
            return self._calls[word]

    async def _generate(self, request: Request) -> JSONResponse:
        body = await request.json()
        prompt = str(body.get("prompt", ""))
        words = set(prompt.split())
        status, pause = 200, 0.0
        with self._lock:
            for word in words:
                self._calls[word] += 1
                remaining, code = self._failures.get(word, (0, 200))
                if remaining != 0:
                    status = code
                    if remaining > 0:
                        self._failures[word] = (remaining - 1, code)
                pause = max(pause, self._delays.get(word, 0.0))
        if pause:
            await asyncio.sleep(pause)
        if status != 200:
            error = {"message": f"scripted failure {status}", "type": "server_error", "code": None}
            return JSONResponse({"error": error}, status_code=status)
        n = int(body.get("n") or 1)
        data = [{"b64_json": base64.b64encode(PNG).decode()} for _ in range(n)]
        return JSONResponse({"created": int(time.time()), "data": data})
