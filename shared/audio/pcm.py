"""Collecting streamed audio as 16-bit PCM, and wrapping pieces of it in WAV files for the provider.

Two encodings arrive over the stream: `pcm16` (raw little-endian 16-bit samples at the start message's
sample rate and channel count) and `wav` (a WAV file sent in pieces: its header is read from the first
bytes, the rest is its data; the header's sizes are ignored, as a streaming encoder cannot know them).
Durations are counted in frames (one sample per channel), so the seconds billed are exact.
"""

from __future__ import annotations

import io
import struct
import sys
import wave
from array import array
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
    """The stream's audio, kept small: stored as mono (channels averaged) at the input rate divided by the
    largest whole factor that stays at or above STORED_RATE (48 kHz -> 16 kHz, 44.1 kHz -> 22.05 kHz), by
    averaging. Speech models lose nothing by it, and a session's memory is bounded by
    max_frames x 2 bytes (10 minutes: about 19 MB at 16 kHz, against 115 MB of 48 kHz stereo). Audio past
    `max_frames` is not kept; `overflowed` says some came."""

    def __init__(self, encoding: Encoding, sample_rate: int, channels: int = 1) -> None:
        self.encoding = encoding
        self.input: PcmFormat | None = PcmFormat(sample_rate, channels) if encoding == "pcm16" else None
        self.format: PcmFormat | None = _stored(self.input) if self.input else None
        self.pcm = bytearray()
        self.max_frames: int | None = None
        self.overflowed = False
        self._header = bytearray()
        self._partial = b""  # the bytes of an input frame a chunk cut in two

    @property
    def frames(self) -> int:
        return len(self.pcm) // 2 if self.format else 0

    def seconds(self, frames: int | None = None) -> float:
        if self.format is None:
            return 0.0
        return (self.frames if frames is None else frames) / self.format.sample_rate

    def feed(self, chunk: bytes) -> None:
        if self.input is None:
            self._header += chunk
            found = _parse_wav_header(bytes(self._header))
            if found is None:
                if len(self._header) > MAX_WAV_HEADER:
                    raise BadAudio(
                        "The audio does not start with a 16-bit PCM WAV header; send pcm16 or wav."
                    )
                return
            self.input, offset = found
            self.format = _stored(self.input)
            chunk = bytes(self._header[offset:])
            self._header.clear()
        self._store(chunk)

    def _store(self, chunk: bytes) -> None:
        assert self.input is not None and self.format is not None
        factor = self.input.sample_rate // self.format.sample_rate
        group = self.input.frame_bytes * factor  # the input bytes of one stored sample
        data = self._partial + chunk
        usable = len(data) - len(data) % group
        self._partial = data[usable:]
        if not usable:
            return
        room = None if self.max_frames is None else max(self.max_frames + 1 - self.frames, 0)
        if room is not None and usable // group > room:
            self.overflowed = True
            usable = room * group
        samples: array[int] = array("h")
        samples.frombytes(data[:usable])
        if sys.byteorder == "big":
            samples.byteswap()
        self.pcm += _average(samples, self.input.channels * factor)

    def truncate(self, frames: int) -> None:
        if self.format is not None:
            del self.pcm[frames * 2 :]

    def wav(self, start: int = 0, end: int | None = None) -> bytes:
        """Frames [start, end) as a (mono) WAV file."""
        if self.format is None:
            raise BadAudio("No audio was received.")
        stop = self.frames if end is None else end
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(self.format.sample_rate)
            writer.writeframes(bytes(self.pcm[start * 2 : stop * 2]))
        return out.getvalue()


STORED_RATE = 16000


def _stored(fmt: PcmFormat) -> PcmFormat:
    """Mono, at the input rate divided by the largest whole factor keeping it >= STORED_RATE (if any)."""
    factor = max(
        (k for k in range(1, fmt.sample_rate // STORED_RATE + 1) if fmt.sample_rate % k == 0), default=1
    )
    return PcmFormat(fmt.sample_rate // factor, 1)


def _average(samples: array[int], width: int) -> bytes:
    """Each run of `width` samples (the channels of `factor` input frames) as their mean, little-endian."""
    out = samples
    if width > 1:
        runs = zip(*(samples[j::width] for j in range(width)), strict=True)
        out = array("h", (sum(run) // width for run in runs))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


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
