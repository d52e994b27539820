"""Collecting streamed audio as 16-bit PCM, and wrapping pieces of it in WAV files for the provider.

Two encodings arrive over the stream: `pcm16` (raw little-endian 16-bit samples at the start message's
sample rate and channel count) and `wav` (a WAV file sent in pieces: its header is read from the first
bytes, the rest is its data; the header's sizes are ignored, as a streaming encoder cannot know them).
Durations are counted in frames (one sample per channel), so the seconds billed are exact.
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from typing import Literal

from shared.errors import BadRequest

Encoding = Literal["pcm16", "wav"]
MAX_WAV_HEADER = 64 * 1024


class BadAudio(BadRequest):
    code = "bad_audio"


@dataclass(frozen=True)
class PcmFormat:
    sample_rate: int
    channels: int

    @property
    def frame_bytes(self) -> int:
        return 2 * self.channels


class PcmBuffer:
    def __init__(self, encoding: Encoding, sample_rate: int, channels: int = 1) -> None:
        self.encoding = encoding
        self.format: PcmFormat | None = PcmFormat(sample_rate, channels) if encoding == "pcm16" else None
        self.pcm = bytearray()
        self._header = bytearray()

    @property
    def frames(self) -> int:
        return len(self.pcm) // self.format.frame_bytes if self.format else 0

    def seconds(self, frames: int | None = None) -> float:
        if self.format is None:
            return 0.0
        return (self.frames if frames is None else frames) / self.format.sample_rate

    def feed(self, chunk: bytes) -> None:
        if self.format is not None:
            self.pcm += chunk
            return
        self._header += chunk
        found = _parse_wav_header(bytes(self._header))
        if found is None:
            if len(self._header) > MAX_WAV_HEADER:
                raise BadAudio("The audio does not start with a 16-bit PCM WAV header; send pcm16 or wav.")
            return
        self.format, offset = found
        self.pcm += self._header[offset:]
        self._header.clear()

    def truncate(self, frames: int) -> None:
        if self.format is not None:
            del self.pcm[frames * self.format.frame_bytes :]

    def wav(self, start: int = 0, end: int | None = None) -> bytes:
        """Frames [start, end) as a WAV file."""
        if self.format is None:
            raise BadAudio("No audio was received.")
        size = self.format.frame_bytes
        stop = self.frames if end is None else end
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(self.format.channels)
            writer.setsampwidth(2)
            writer.setframerate(self.format.sample_rate)
            writer.writeframes(bytes(self.pcm[start * size : stop * size]))
        return out.getvalue()


def _parse_wav_header(data: bytes) -> tuple[PcmFormat, int] | None:
    """(format, offset of the PCM data) once the header is complete, None while more bytes are needed."""
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise BadAudio("The audio is not a WAV file (no RIFF/WAVE header); send pcm16 or wav.")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk_id == b"data":
            if fmt is None:
                raise BadAudio("The WAV file has no format chunk before its data.")
            return fmt, body
        if body + size > len(data):
            return None
        if chunk_id == b"fmt ":
            audio_format, channels, rate = struct.unpack("<HHI", data[body : body + 8])
            bits = struct.unpack("<H", data[body + 14 : body + 16])[0]
            if audio_format not in (1, 0xFFFE) or bits != 16 or channels not in (1, 2):
                raise BadAudio("Only 16-bit PCM WAV with one or two channels is accepted.")
            if not 8000 <= rate <= 48000:
                raise BadAudio("The WAV sample rate must be between 8000 and 48000 Hz.")
            fmt = PcmFormat(rate, channels)
        pos = body + size + (size & 1)
    return None
