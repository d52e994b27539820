"""Speech to text over WebSocket: `/v1/audio/transcriptions/stream`.

Protocol (JSON text messages, audio as binary messages):

1. Authenticate with `Authorization: Bearer <access token or API key>` on the upgrade request, or, from
   a browser (which cannot set headers), a `token` field in the start message. Query parameters are
   not accepted: URLs end up in access logs.
2. The client sends the start message:
   `{"type": "start", "model": "whisper-1", "language": "en", "sample_rate": 16000, "channels": 1,
   "encoding": "pcm16" | "wav"}` (`model` defaults to the first enabled one, `language` is optional,
   `sample_rate` is required for pcm16 and read from the header for wav; `channels` defaults to 1).
   The server reserves credits for settings.stt_max_seconds of audio and answers
   `{"type": "started", "session_id", "model", "max_seconds", "price_per_second"}`.
3. The client sends audio as binary messages: raw 16-bit little-endian PCM (pcm16), or a WAV file in
   pieces (wav). For every settings.stt_partial_every_s seconds of audio the server answers
   `{"type": "partial", "text"}` with the transcript so far.
4. The client sends `{"type": "stop"}`; the server transcribes the whole audio and answers
   `{"type": "final", "text", "seconds", "credits"}`, then closes (1000).

Failures answer `{"type": "error", "code", "message"}` and close with 4000 + the HTTP status of the
error (4400 bad start message or audio, 4402 not enough credits, 4403 a model the plan does not include
(model_not_in_plan), 4404 unknown model, 4413 the stream passed its reserved maximum (after the final
message for the audio up to it), 4429 rate limited or too many sessions open (too_many_speech_sessions,
settings.max_speech_sessions per user), 4502 provider failure, 4408 nothing received for
settings.stt_idle_timeout_s); a missing or bad credential closes with 1008 (policy violation).
Charging: the seconds of audio received, at the model's price_per_second; a client that disconnects pays
for the seconds already transcribed; nothing is charged when the provider fails or nothing was
transcribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from run_services.api.deps import WORKSPACE_HEADER, spending_as
from shared.audio.stream import StartMessage, TranscriptionStream
from shared.auth.schemas import Principal
from shared.bootstrap import Services
from shared.errors import AppError, BadRequest, Unauthorized
from shared.gateway.transcription import TranscriptionFailed
from shared.limits.concurrency import Lease
from shared.plans.offers import ensure_model_allowed

log = logging.getLogger("api.audio")
router = APIRouter(tags=["audio"])

POLICY_VIOLATION = 1008


class StreamLimitReached(AppError):
    status = 413
    type = "invalid_request_error"
    code = "stream_limit_reached"


class IdleTimeout(AppError):
    status = 408
    type = "invalid_request_error"
    code = "idle_timeout"


@router.websocket("/v1/audio/transcriptions/stream")
async def transcription_stream(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    await websocket.accept()
    try:
        raw = await _receive_start(websocket, services.settings.stt_start_timeout_s)
        principal = await _authenticate(websocket, services, raw)
    except Unauthorized as exc:
        await _send(websocket, _error(exc))
        await _close(websocket, POLICY_VIOLATION)
        return
    except AppError as exc:
        await _end(websocket, exc)
        return
    stream: TranscriptionStream | None = None
    open_limits = services.open_limits
    lease: Lease | None = None
    try:
        start = _parse_start(raw)
        await services.rate_limits.check_request(principal)
        catalog, transcriber = services.audio, services.transcriber
        model = catalog.model(start.model)
        ensure_model_allowed(services.offers.get(principal.plan), model.id)
        lease = await open_limits.concurrency.acquire(open_limits.speech, principal.user_id)
        session_id = uuid.uuid4().hex
        stream = TranscriptionStream(
            services.payer,
            transcriber,
            model,
            services.settings,
            principal.wallet_id,
            session_id,
            start,
            spender=principal.user_id,
            usage=services.usage,
            budgets=services.budgets,
            budget=services.budgets.for_user(principal),
        )
        await stream.open()
        await _send(
            websocket,
            {
                "type": "started",
                "session_id": session_id,
                "model": model.id,
                "max_seconds": stream.max_seconds,
                "price_per_second": model.price_per_second,
            },
        )
        await _run(websocket, stream, services.settings.stt_idle_timeout_s)
    except TranscriptionFailed as exc:
        if stream is not None:
            await stream.fail()
        await _end(websocket, exc)
    except AppError as exc:
        if stream is not None:
            await stream.abandon()
        await _end(websocket, exc)
    finally:
        if stream is not None and not stream.closed:  # disconnected, cancelled or crashed
            await asyncio.shield(stream.abandon())
        await open_limits.concurrency.release(lease)


async def _run(websocket: WebSocket, stream: TranscriptionStream, idle_s: float) -> None:
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), idle_s)
        except TimeoutError as exc:
            raise IdleTimeout(f"No audio for {idle_s:g} s; the stream was ended.") from exc
        if message["type"] == "websocket.disconnect":
            charge = await stream.abandon()
            log.info(
                "transcription client left", extra={"seconds": charge.seconds, "credits": charge.credits}
            )
            return
        if message.get("bytes") is not None:
            partials, over = await stream.add(message["bytes"])
            for text in partials:
                await _send(websocket, {"type": "partial", "text": text})
            if over:
                await _final(websocket, stream)
                raise StreamLimitReached(
                    f"The stream passed its maximum of {stream.max_seconds} s (what your credits or the "
                    "server's limit allow); the audio after it was not transcribed. Start a new stream."
                )
            continue
        if _json(message.get("text")).get("type") == "stop":
            await _final(websocket, stream)
            await _close(websocket, 1000)
            return
        raise BadRequest('Send audio as binary messages and end with {"type": "stop"}.', code="bad_message")


async def _final(websocket: WebSocket, stream: TranscriptionStream) -> None:
    text, charge = await stream.finish()
    await _send(
        websocket, {"type": "final", "text": text, "seconds": charge.seconds, "credits": charge.credits}
    )


async def _receive_start(websocket: WebSocket, timeout_s: float) -> dict[str, Any]:
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout_s)
    except TimeoutError as exc:
        raise IdleTimeout(f"No start message within {timeout_s:g} s.") from exc
    if message["type"] == "websocket.disconnect":
        raise BadRequest("The client left before starting.", code="bad_start_message")
    raw = _json(message.get("text"))
    if not raw:
        raise BadRequest(
            'The first message must be the JSON start message, e.g. {"type": "start", "encoding": "pcm16", '
            '"sample_rate": 16000}.',
            code="bad_start_message",
        )
    return raw


async def _authenticate(websocket: WebSocket, services: Services, raw: dict[str, Any]) -> Principal:
    scheme, _, credential = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        token = raw.get("token")
        credential = token if isinstance(token, str) else ""
    if not credential.strip():
        raise Unauthorized(
            "Send `Authorization: Bearer <token>` on the upgrade, or `token` in the start message.",
            code="missing_credentials",
        )
    principal = await services.auth.authenticate(credential.strip())
    workspace = websocket.headers.get(WORKSPACE_HEADER) or raw.get("workspace_id")
    if isinstance(workspace, str) and workspace.strip():
        return await spending_as(services.workspaces, principal, workspace.strip())
    return principal


def _parse_start(raw: dict[str, Any]) -> StartMessage:
    try:
        return StartMessage.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors())
        raise BadRequest(f"Bad start message ({problems}).", code="bad_start_message") from exc


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    with contextlib.suppress(ValueError):
        value = json.loads(text)
        if isinstance(value, dict):
            return value
    return {}


def _error(exc: AppError) -> dict[str, Any]:
    return {"type": "error", "code": exc.code, "message": exc.message}


async def _end(websocket: WebSocket, exc: AppError) -> None:
    await _send(websocket, _error(exc))
    await _close(websocket, 4000 + exc.status)


async def _send(websocket: WebSocket, payload: dict[str, Any]) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):  # the client may be gone; its charge is settled regardless
            await websocket.send_json(payload)


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code)
