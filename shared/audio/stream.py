"""One speech-to-text stream: its audio, its transcripts and its credit hold.

    open (reserve) -> add chunks (a partial transcript for every full window of audio) -> finish
    (transcribe the whole, settle on the seconds received) | abandon (client gone: settle on the seconds
    already transcribed) | fail (provider failure: void)

Metering is per second of audio at the model's price_per_second, counted in frames so it is exact:
credits = ceil(frames * price / sample_rate). The hold `stt:{session_id}` is reserved for
settings.stt_max_seconds of audio (less when the balance is lower, but never under stt_min_seconds:
then the stream is refused and nothing is held). Audio past what the hold covers is cut off and the
stream ends. The hold ends exactly once (the ledger ignores a second settle or void); a crashed
instance's hold expires through the reconciler after its TTL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.audio.pcm import Encoding, PcmBuffer
from shared.catalog.audio import TranscriptionModel
from shared.errors import AppError, PaymentRequired
from shared.gateway.transcription import Transcriber
from shared.ledger.errors import InsufficientCredits
from shared.limits.budgets.schemas import Admission, Budget
from shared.limits.budgets.service import Budgets
from shared.settings import Settings
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder

log = logging.getLogger("audio.stream")

HOLD_MARGIN_S = 900
# Providers take files up to 25 MB (OpenAI); a longer stream's final text is its windows' texts instead.
MAX_UPLOAD_BYTES = 24 * 1024 * 1024


class StartMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["start"] = "start"
    model: str | None = Field(None, max_length=128)
    language: str | None = Field(None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    sample_rate: int | None = Field(None, ge=8000, le=48000)
    channels: int = Field(1, ge=1, le=2)
    encoding: Encoding
    token: str | None = Field(None, max_length=4096)  # for browsers, which cannot set headers
    workspace_id: str | None = Field(None, max_length=128)  # spend a workspace's wallet (X-Workspace-ID)

    @model_validator(mode="after")
    def _rate_for_raw_pcm(self) -> StartMessage:
        if self.encoding == "pcm16" and self.sample_rate is None:
            raise ValueError("pcm16 audio needs sample_rate (8000 to 48000)")
        return self


class SessionTimeLimit(AppError):
    status = 408
    type = "invalid_request_error"
    code = "session_time_limit"


class StreamTooShort(PaymentRequired):
    code = "insufficient_credits"


@dataclass(frozen=True)
class Charge:
    seconds: float
    credits: int


class TranscriptionStream:
    def __init__(
        self,
        payer: Payer,
        transcriber: Transcriber,
        model: TranscriptionModel,
        settings: Settings,
        wallet_id: str,
        session_id: str,
        start: StartMessage,
        spender: str | None = None,
        usage: UsageRecorder | None = None,
        budgets: Budgets | None = None,
        budget: Budget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._payer = payer
        self._spender = spender
        self._usage = usage
        self._budgets = budgets if budget is not None else None
        self._budget = budget
        self._clock = clock
        self.ends_at = float("inf")  # the wall-clock end of the session, set by open()
        self._admission: Admission | None = None
        self._transcriber = transcriber
        self.model = model
        self._settings = settings
        self._wallet_id = wallet_id
        self.hold_id = f"stt:{session_id}"
        self._language = start.language
        self.audio = PcmBuffer(start.encoding, start.sample_rate or 0, start.channels)
        self.max_seconds = 0  # what the hold covers, set by open()
        self.transcribed = 0  # frames sent to the provider as windows
        self._texts: list[str] = []
        self.closed = False

    async def open(self) -> None:
        """Reserve the stream's credits, or refuse (402) when the balance cannot pay stt_min_seconds."""
        price = self.model.price_per_second
        want = self._settings.stt_max_seconds * price
        minimum = min(self._settings.stt_min_seconds, self._settings.stt_max_seconds) * price
        if self._budgets is not None and self._budget is not None:
            # The spend budget first: it may cut the stream's length, never below the minimum (402).
            self._admission = await self._budgets.admit(self._budget, want, minimum)
            want = self._admission.amount
        try:
            ttl = self._settings.stt_max_seconds + int(self._settings.stt_idle_timeout_s) + HOLD_MARGIN_S
            hold = await self._payer.reserve(
                self._wallet_id,
                self.hold_id,
                want=want,
                minimum=minimum,
                ttl_s=ttl,
                ref="audio:transcription",
                spender=self._spender,
            )
        except BaseException as exc:
            if self._admission is not None and self._budgets is not None:
                await self._budgets.release(self._admission)
            if not isinstance(exc, InsufficientCredits):
                raise
            raise StreamTooShort(
                f"A transcription stream needs credits for at least {self._settings.stt_min_seconds} s of "
                f"audio ({minimum} credits) but only {exc.available} are available. Top up and retry."
            ) from exc
        self.max_seconds = hold.amount // price
        # However slowly the audio comes (a socket kept alive with tiny chunks), the session ends well
        # before the reconciler could release its hold.
        self.ends_at = self._clock() + ttl - HOLD_MARGIN_S // 2
        self._wallet_id = hold.wallet_id  # a workspace hold lives on one shard of its wallet

    async def add(self, chunk: bytes) -> tuple[list[str], bool]:
        """Take a chunk of audio: (the partial transcripts it completed, whether the hold's maximum was
        passed, in which case the audio past it was dropped and the stream must end)."""
        if self._clock() > self.ends_at:
            raise SessionTimeLimit(
                "This transcription session reached its time limit; what was transcribed is charged. "
                "Start a new session for more audio."
            )
        self.audio.feed(chunk)
        fmt = self.audio.format
        if fmt is None:
            return [], False
        limit = self.max_seconds * fmt.sample_rate
        self.audio.max_frames = limit  # nothing past what the hold covers is kept in memory
        over = self.audio.overflowed or self.audio.frames > limit
        if over:
            self.audio.truncate(limit)
        window = max(1, int(self._settings.stt_partial_every_s * fmt.sample_rate))
        partials: list[str] = []
        while self.audio.frames - self.transcribed >= window:
            end = self.transcribed + window
            text = await self._transcriber.transcribe(
                self.model, self.audio.wav(self.transcribed, end), self._language
            )
            self.transcribed = end
            if text:
                self._texts.append(text)
            partials.append(" ".join(self._texts))
        return partials, over

    async def finish(self) -> tuple[str, Charge]:
        """Transcribe all the audio at once for the final text (too big for one upload: the windows'
        texts and the rest), and charge its seconds."""
        frames = self.audio.frames
        text = ""
        fmt = self.audio.format
        if fmt is not None and frames * fmt.frame_bytes > MAX_UPLOAD_BYTES:
            texts = list(self._texts)
            if frames > self.transcribed:
                rest = self.audio.wav(self.transcribed, frames)
                texts.append(await self._transcriber.transcribe(self.model, rest, self._language))
            text = " ".join(t for t in texts if t)
        elif frames > 0:
            text = await self._transcriber.transcribe(self.model, self.audio.wav(), self._language)
        return text, await self._close(frames, "finished")

    async def abandon(self) -> Charge:
        """The client went away (or sent something wrong): charge the seconds already transcribed."""
        return await self._close(self.transcribed, "abandoned")

    async def fail(self) -> None:
        """The provider failed: nobody pays for an error."""
        await self._close(0, "failed")

    def charge(self, frames: int) -> Charge:
        fmt = self.audio.format
        if fmt is None or frames <= 0:
            return Charge(0.0, 0)
        credits = -(-frames * self.model.price_per_second // fmt.sample_rate)
        return Charge(round(frames / fmt.sample_rate, 3), credits)

    async def _close(self, frames: int, outcome: str) -> Charge:
        charge = self.charge(frames)
        if self.closed or not self.max_seconds:
            return charge
        self.closed = True
        if charge.credits > 0:
            hold = await self._payer.settle(self._wallet_id, self.hold_id, charge.credits)
            charge = Charge(charge.seconds, hold.charged)
        else:
            await self._payer.void(self._wallet_id, self.hold_id)
        if self._admission is not None and self._budgets is not None:
            if charge.credits > 0:
                await self._budgets.settle(self._admission, charge.credits)
            else:
                await self._budgets.release(self._admission)
        if self._usage is not None and charge.credits > 0:
            await self._usage.record(
                self.hold_id,
                user_id=self._spender,
                wallet_id=self._wallet_id,
                feature="transcription",
                model=self.model.id,
                seconds=charge.seconds,
                credits=charge.credits,
                outcome=outcome,
            )
        log.info(
            "transcription stream closed",
            extra={
                "hold_id": self.hold_id,
                "model": self.model.id,
                "outcome": outcome,
                "seconds": charge.seconds,
                "credits": charge.credits,
            },
        )
        return charge
