"""Server-sent events, read as the bytes arrive: each event's `data` as bytes, nothing else decoded.

Events end at a blank line (LF or CRLF line ends); comment lines (`: keep-alive`, OpenRouter's
`: OPENROUTER PROCESSING`) and other fields (`event:`, `id:`, `retry:`) are skipped; several `data:`
lines of one event are joined with a newline, as the SSE specification says.

What is held between reads is bounded: an event (or a line) longer than MAX_EVENT_BYTES raises
EventTooLarge instead of growing the buffer until the provider stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

DONE = b"[DONE]"
MAX_EVENT_BYTES = 4 * 1024 * 1024  # a chunk with logprobs is a few KiB; a whole answer in one event fits


class EventTooLarge(ValueError):
    """The provider sent an event (or a line) longer than MAX_EVENT_BYTES."""


async def events(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The data of each event in `chunks` (the HTTP body as it arrives), in order."""
    buffer = b""
    data: list[bytes] = []
    async for chunk in chunks:
        buffer = buffer + chunk if buffer else chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield data[0] if len(data) == 1 else b"\n".join(data)
                    data = []
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
        buffer = buffer[start:]
        if len(buffer) > MAX_EVENT_BYTES or sum(map(len, data)) > MAX_EVENT_BYTES:
            raise EventTooLarge(f"an event of more than {MAX_EVENT_BYTES} bytes")
    if buffer.startswith(b"data:"):  # a last event the provider did not end with a blank line
        value = buffer.rstrip(b"\r\n")[5:]
        data.append(value[1:] if value.startswith(b" ") else value)
    if data:
        yield b"\n".join(data)
