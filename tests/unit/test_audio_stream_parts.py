"""Speech-to-text pieces without any service: collecting PCM and streamed WAV, the start message, and
the per-second charge (exact, in frames, rounded up to a whole credit)."""

from __future__ import annotations

import datetime as dt
import io
import sys
import wave
from array import array
from typing import Any, cast

import pytest
from pydantic import ValidationError

from shared.audio.pcm import BadAudio, PcmBuffer
from shared.audio.stream import HOLD_MARGIN_S, SessionTimeLimit, StartMessage, TranscriptionStream
from shared.catalog.audio import TranscriptionModel
from shared.ledger.schemas import Hold
from shared.settings import Settings

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def wav_file(frames: int, rate: int = 8000, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x01\x02" * frames * channels)
    return out.getvalue()


def test_pcm16_counts_frames_and_wraps_windows_in_wav() -> None:
    audio = PcmBuffer("pcm16", 16000, channels=2)
    audio.feed(b"\x00\x01" * 2 * 16000)  # one second of stereo
    audio.feed(b"\x00\x01" * 3)  # and a frame and a half
    assert audio.frames == 16001 and audio.seconds() == pytest.approx(16001 / 16000)
    with wave.open(io.BytesIO(audio.wav(0, 8000)), "rb") as reader:  # kept as mono
        assert (reader.getnframes(), reader.getnchannels(), reader.getframerate()) == (8000, 1, 16000)
    audio.feed(b"\x00\x01")  # the second half of the cut frame completes it
    assert audio.frames == 16002
    audio.truncate(100)
    assert audio.frames == 100


def samples(*values: int) -> bytes:
    """16-bit little-endian PCM of `values`."""
    a = array("h", values)
    if sys.byteorder == "big":
        a.byteswap()
    return a.tobytes()


def test_48khz_stereo_is_kept_as_16khz_mono_averaged_so_a_session_stays_small() -> None:
    audio = PcmBuffer("pcm16", 48000, channels=2)
    # Three stereo frames make one stored sample: the mean of their six values.
    audio.feed(samples(10, 20, 30, 40, 50, 60, -6, -6, -6, -6, -6, -6))
    assert audio.format is not None and (audio.format.sample_rate, audio.format.channels) == (16000, 1)
    assert bytes(audio.pcm) == samples(35, -6)
    second = b"\x00\x00" * 2 * 48000  # one second of 48 kHz stereo: 192 KB in, 32 KB kept
    audio.feed(second)
    assert audio.frames == 2 + 16000 and len(audio.pcm) == 2 * audio.frames
    with wave.open(io.BytesIO(audio.wav()), "rb") as reader:
        assert (reader.getnchannels(), reader.getframerate()) == (1, 16000)


def test_44100_hz_halves_and_audio_past_the_cap_is_not_kept() -> None:
    audio = PcmBuffer("pcm16", 44100, channels=1)
    assert audio.format is not None and audio.format.sample_rate == 22050
    audio.max_frames = 22050  # one second is all the hold pays for
    audio.feed(b"\x00\x00" * 44100 * 30)  # thirty seconds in one chunk
    assert audio.overflowed and audio.frames <= 22051  # memory bounded by the cap, not by what came


def test_wav_header_may_arrive_in_pieces() -> None:
    data = wav_file(4000, rate=8000)
    audio = PcmBuffer("wav", 0)
    for i in range(0, len(data), 7):
        audio.feed(data[i : i + 7])
    assert audio.format is not None and audio.format.sample_rate == 8000
    assert audio.frames == 4000 and audio.seconds() == 0.5


@pytest.mark.parametrize(
    "data",
    [b"ID3\x04" + b"\x00" * 40, wav_file(10)[:20] + b"\x03\x00" + wav_file(10)[22:]],
    ids=["not a wav", "not pcm"],
)
def test_other_audio_is_refused(data: bytes) -> None:
    with pytest.raises(BadAudio):
        PcmBuffer("wav", 0).feed(data)


def test_start_message() -> None:
    start = StartMessage.model_validate({"encoding": "pcm16", "sample_rate": 16000, "language": "en"})
    assert start.model is None and start.channels == 1
    assert StartMessage.model_validate({"encoding": "wav"}).sample_rate is None
    for bad in (
        {"encoding": "pcm16"},
        {"encoding": "mp3", "sample_rate": 16000},
        {"encoding": "pcm16", "sample_rate": 4000},
        {"encoding": "pcm16", "sample_rate": 16000, "language": "english please"},
        {"encoding": "pcm16", "sample_rate": 16000, "volume": 11},
    ):
        with pytest.raises(ValidationError):
            StartMessage.model_validate(bad)


def test_charge_is_per_second_in_frames_rounded_up() -> None:
    model = TranscriptionModel("m", "p", "openai/m", price_per_second=100, available=True)
    start = StartMessage.model_validate({"encoding": "pcm16", "sample_rate": 16000})
    stream = TranscriptionStream(
        cast(Any, None), cast(Any, None), model, Settings(), "wallet", "session", start
    )
    assert stream.hold_id == "stt:session"
    assert stream.charge(0).credits == 0
    assert stream.charge(16000).credits == 100 and stream.charge(16000).seconds == 1.0
    assert stream.charge(56000).credits == 350
    assert stream.charge(1).credits == 1  # a sliver of audio still costs a credit
    assert stream.charge(16001).credits == 101


class EchoTranscriber:
    """Our Transcriber interface, answering the duration it was given (a provider stand-in)."""

    def __init__(self) -> None:
        self.files: list[int] = []

    async def transcribe(self, model: TranscriptionModel, wav: bytes, language: str | None) -> str:
        with wave.open(io.BytesIO(wav), "rb") as reader:
            self.files.append(reader.getnframes())
            return f"[{reader.getnframes()}]"


@pytest.mark.anyio
async def test_a_stream_too_big_for_one_upload_ends_with_its_windows_texts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shared.audio.stream as stream_module

    model = TranscriptionModel("m", "p", "openai/m", price_per_second=100, available=True)
    start = StartMessage.model_validate({"encoding": "pcm16", "sample_rate": 8000})
    echo = EchoTranscriber()
    settings = Settings(stt_partial_every_s=1.0)
    stream = TranscriptionStream(cast(Any, None), echo, model, settings, "wallet", "session", start)
    stream.max_seconds = 10
    stream.closed = True  # no ledger here: only the texts are checked
    partials, over = await stream.add(b"\x00\x00" * 20000)  # 2.5 s: two windows
    assert partials == ["[8000]", "[8000] [8000]"] and not over
    monkeypatch.setattr(stream_module, "MAX_UPLOAD_BYTES", 30000)
    text, charge = await stream.finish()
    assert text == "[8000] [8000] [4000]" and echo.files == [8000, 8000, 4000]
    assert charge.credits == 250
    monkeypatch.setattr(stream_module, "MAX_UPLOAD_BYTES", 10**9)
    text, _ = await stream.finish()
    assert text == "[20000]"


class HoldingPayer:
    """Reserves whatever is asked (no ledger here: only the session's clock is checked)."""

    async def reserve(self, wallet_id: str, hold_id: str, want: int, minimum: int, **_: Any) -> Hold:
        return Hold(id=hold_id, wallet_id=wallet_id, amount=want, state="pending", charged=0, expires_at=NOW)


@pytest.mark.anyio
async def test_a_session_ends_before_its_hold_could_expire_however_slowly_audio_comes() -> None:
    model = TranscriptionModel("m", "p", "openai/m", price_per_second=100, available=True)
    start = StartMessage.model_validate({"encoding": "pcm16", "sample_rate": 8000})
    settings = Settings(stt_max_seconds=60, stt_idle_timeout_s=30.0)
    now = [1_000.0]
    stream = TranscriptionStream(
        cast(Any, HoldingPayer()), EchoTranscriber(), model, settings, "w", "s", start, clock=lambda: now[0]
    )
    await stream.open()
    hold_ttl = 60 + 30 + HOLD_MARGIN_S
    assert stream.ends_at < now[0] + hold_ttl  # the session ends first
    now[0] = stream.ends_at - 1
    await stream.add(b"\x00\x00" * 10)  # a tiny keep-alive chunk is still taken
    now[0] = stream.ends_at + 1
    with pytest.raises(SessionTimeLimit):
        await stream.add(b"\x00\x00" * 10)
