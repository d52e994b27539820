"""Text to speech, metered: check, reserve, call the provider, relay its audio, settle, record.

    prepare (model 404, plan 403, body 400: nothing taken yet)
    -> start: the request's estimated tokens from the tokens-per-minute bucket, the spend budget and a
       credit hold for exactly the price (ChatAdmission: 402 / 429 with nothing left taken); then the
       provider is asked and its first bytes awaited. A failure up to there gives everything back and
       charges nothing, so the client gets a plain error answer.
    -> body(): the first bytes, then the rest as the provider sends them; when it ends the hold is settled
       (or voided) and the usage record written, once.

The price is known before the call (characters x the model's price per million), so the answer's headers
carry it. How a streamed call ends decides the charge:
- the provider sent everything: charged in full;
- the client went away midway: charged in full. The provider was already asked for the whole text and
  bills it whether or not anyone listens, and the client chose to stop; the upstream read is stopped;
- the provider stopped midway (connection lost, idle timeout): nothing is charged, and the client's
  transfer is cut too (no clean end of body), so it cannot mistake the part for the whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import anyio

from shared.auth.schemas import Principal
from shared.catalog.catalog import usd
from shared.catalog.speech import CONTENT_TYPES, SpeechCatalog, SpeechModel
from shared.chat import records
from shared.chat.admission import ChatAdmission
from shared.errors import AppError, UpstreamError
from shared.gateway.speech import AudioStream, Speaker, SpeechRequest
from shared.limits.budgets.service import Budgets
from shared.limits.ratelimit.service import RateLimits
from shared.plans.offers import PlanOffers, ensure_model_allowed
from shared.speech.schemas import SpeechBody
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder

log = logging.getLogger("speech")

REF = "audio:speech"
CHARS_PER_TOKEN = 4  # the input's weight in the tokens-per-minute bucket, as a chat prompt of that length


@dataclass(frozen=True)
class Prepared:
    model: SpeechModel
    request: SpeechRequest
    characters: int
    credits: int  # the price: what a completed call is charged

    @property
    def tokens(self) -> int:
        return -(-self.characters // CHARS_PER_TOKEN)


class SpeechService:
    def __init__(
        self,
        catalog: SpeechCatalog,
        speaker: Speaker,
        payer: Payer,
        usage: UsageRecorder,
        offers: PlanOffers,
        rate_limits: RateLimits | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        self.catalog = catalog
        self._speaker = speaker
        self._payer = payer
        self._usage = usage
        self._offers = offers
        self._rate_limits = rate_limits
        self._budgets = budgets

    def prepare(self, principal: Principal, body: SpeechBody) -> Prepared:
        """The call to make and its price; 404 unknown model, 403 not in the plan, 400 bad values."""
        model = self.catalog.model(body.model)
        ensure_model_allowed(self._offers.get(principal.plan), model.id)
        request = body.request(model)
        characters = len(request.input)
        return Prepared(model, request, characters, model.price(characters))

    async def start(self, principal: Principal, prepared: Prepared, request_id: str) -> SpeechCall:
        """Reserve the price and open the provider's audio up to its first bytes."""
        admission = await ChatAdmission.admit(
            principal,
            payer=self._payer,
            rate_limits=self._rate_limits,
            budgets=self._budgets,
            tokens=prepared.tokens,
            want=prepared.credits,
            minimum=prepared.credits,
            ref=REF,
        )
        call = SpeechCall(self._usage, principal, prepared, admission, request_id)
        try:
            await call.open(self._speaker)
        except Exception as exc:
            with anyio.CancelScope(shield=True):
                await call.finish("provider_failed", exc)
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                await call.finish("cancelled", None)
            raise
        return call


class Body:
    """The audio as the response reads it. Closing it ends the call even when it was never read (the
    client left before the first write): an async generator closed before its start runs no cleanup."""

    def __init__(self, call: SpeechCall, relay: AsyncGenerator[bytes]) -> None:
        self._call = call
        self._relay = relay

    def __aiter__(self) -> Body:
        return self

    async def __anext__(self) -> bytes:
        return await self._relay.__anext__()

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._relay.aclose()
            await self._call.finish("client_disconnected", None)


class SpeechCall:
    def __init__(
        self,
        usage: UsageRecorder,
        principal: Principal,
        prepared: Prepared,
        admission: ChatAdmission,
        request_id: str,
    ) -> None:
        self._usage = usage
        self.principal = principal
        self.prepared = prepared
        self._admission = admission
        self.request_id = request_id
        self._audio: AudioStream | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._first = b""
        self._started = time.perf_counter()
        self._first_at: float | None = None
        self.bytes_sent = 0
        self.charged: int | None = None  # set when the call is finished

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.prepared.request.response_format]

    def headers(self) -> dict[str, str]:
        """What the answer says before its body: the model, the provider and the charge (the price of
        the characters; a body the provider cuts is not charged, see the module's docstring)."""
        model = self.prepared.model
        return {
            "X-Model": model.id,
            "X-Provider": model.provider,
            "X-Credits-Charged": str(self.prepared.credits),
            "X-Cost-USD": f"{usd(self.prepared.credits):.6f}",
            "Cache-Control": "no-store",
        }

    async def open(self, speaker: Speaker) -> None:
        self._audio = await speaker.open(self.prepared.model, self.prepared.request)
        self._chunks = self._audio.chunks()
        self._first = await anext(self._chunks, b"")
        if not self._first:
            raise UpstreamError(
                f"The provider '{self.prepared.model.provider}' answered without audio; nothing was "
                "charged. Retry.",
                code="empty_audio",
            )
        self._first_at = time.perf_counter()

    def body(self) -> Body:
        """The audio; settles the call when it ends, however it ends (closed unread too)."""
        return Body(self, self._relay())

    async def _relay(self) -> AsyncGenerator[bytes]:
        assert self._chunks is not None, "open() first"
        outcome, error = "client_disconnected", None  # unless the loop below ends or fails
        try:
            self.bytes_sent += len(self._first)
            yield self._first
            async for chunk in self._chunks:
                self.bytes_sent += len(chunk)
                yield chunk
            outcome = "completed"
        except Exception as exc:
            outcome, error = "provider_cut", exc
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self.finish(outcome, error)

    async def finish(self, outcome: str, error: BaseException | None) -> int:
        """Close the upstream, settle (the audio was produced) or void (it was not), record; once."""
        if self.charged is not None:
            return self.charged
        self.charged = 0
        if self._audio is not None:
            await self._audio.aclose()
        if outcome in ("completed", "client_disconnected"):
            self.charged = await self._admission.settle(self.prepared.credits, self.prepared.tokens)
        else:
            await self._admission.release()
        if outcome != "cancelled":
            await self._record(outcome, error)
        return self.charged

    async def _record(self, outcome: str, error: BaseException | None) -> None:
        prepared, principal = self.prepared, self.principal
        now = time.perf_counter()
        fields = {
            "user_id": principal.user_id,
            "wallet_id": self._admission.wallet_id or principal.wallet_id,
            "workspace_id": principal.workspace_id,
            "feature": "speech",
            "api_key_id": principal.key_id,
            "request_id": self.request_id,
            "hold_id": self._admission.hold_id,
            "model": prepared.model.id,
            "provider": prepared.model.provider,
            "voice": prepared.request.voice,
            "response_format": prepared.request.response_format,
            "characters": prepared.characters,
            "bytes": self.bytes_sent,
            "credits": self.charged or 0,
            "latency_ms": records.ms_since(self._started, now),
            "ttfb_ms": None if self._first_at is None else records.ms_since(self._started, self._first_at),
            "outcome": outcome,
            "error_code": error.code if isinstance(error, AppError) else None,
        }
        await records.record(self._usage, log, "speech call", fields)
