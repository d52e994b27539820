"""Helpers of the speech-to-text tests: the price of the test model, and talking to the WebSocket stream.
The fixtures (the fake transcription server, its settings) are in tests/integration/conftest.py."""

from __future__ import annotations

import json
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.fakes.transcription import pcm_seconds

PRICE = 100  # credits per second of the test model


def open_stream(api: str, headers: dict[str, str] | None = None) -> ClientConnection:
    url = api.replace("http://", "ws://") + "/v1/audio/transcriptions/stream"
    return connect(url, additional_headers=headers or {}, open_timeout=10, close_timeout=5)


def start(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    ws.send(
        json.dumps(
            {"type": "start", "model": "fake-stt", "encoding": "pcm16", "sample_rate": 16000, **fields}
        )
    )
    return recv(ws)


def recv(ws: ClientConnection) -> dict[str, Any]:
    message = ws.recv(timeout=20)
    assert isinstance(message, str)
    value: dict[str, Any] = json.loads(message)
    return value


def rest(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """Every message until the server closes, and its close code."""
    messages = []
    try:
        while True:
            messages.append(recv(ws))
    except ConnectionClosed as closed:
        return messages, closed.rcvd.code if closed.rcvd else None


def send_audio(ws: ClientConnection, seconds: float, chunk_s: float = 0.25) -> None:
    audio = pcm_seconds(seconds)
    step = int(chunk_s * 16000) * 2
    for i in range(0, len(audio), step):
        ws.send(audio[i : i + step])
