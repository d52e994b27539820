"""POST /v1/audio/speech, OpenAI-compatible: text in, audio bytes out, streamed as the provider makes them.

The answer's Content-Type is the format's (mp3 audio/mpeg, opus audio/opus, aac audio/aac, flac
audio/flac, wav audio/wav, pcm audio/pcm), and its headers say what the call costs before the body:
`X-Credits-Charged` (integer credits, 1 credit = 1 micro-USD) and `X-Cost-USD` (the same in dollars),
beside `X-Model`, `X-Provider` and the `X-RateLimit-*` headers. Errors answer OpenAI's JSON error shape
before any audio; see shared/speech/service.py for what is charged when a stream ends early.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from run_services.api.deps import RateLimitDep, ServicesDep, Spender, request_id
from run_services.api.streaming import WatchedStreamingResponse
from shared.catalog.speech import CONTENT_TYPES
from shared.limits.concurrency import released_after
from shared.speech.schemas import SpeechBody

router = APIRouter(tags=["audio"])

AUDIO = {
    "description": "The audio, streamed (chunked) as the provider produces it.",
    "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in CONTENT_TYPES.values()},
    "headers": {
        "X-Credits-Charged": {
            "description": "Credits charged (1 credit = 1 micro-USD).",
            "schema": {"type": "integer"},
        },
        "X-Cost-USD": {"description": "The charge in US dollars.", "schema": {"type": "string"}},
    },
}


@router.post("/v1/audio/speech", response_class=Response, responses={200: AUDIO})
async def create_speech(
    body: SpeechBody, request: Request, principal: Spender, services: ServicesDep, limits: RateLimitDep
) -> Response:
    """Speak `input` with one of the model's voices. Priced per input character; the text is checked
    against the model's limit before anything is reserved."""
    speech = services.speech
    prepared = speech.prepare(principal, body)
    open_limits = services.open_limits
    concurrency = open_limits.concurrency
    lease = await concurrency.acquire(open_limits.streams, principal.user_id)
    try:
        call = await speech.start(principal, prepared, request_id(request))
    except BaseException:
        await concurrency.release(lease)
        raise
    response = WatchedStreamingResponse(
        call.body(),
        headers={**call.headers(), **limits.headers()},
        media_type=call.content_type,
        stall_s=services.settings.stream_stall_s,
    )
    # The slot is freed when the stream ends, however it ends; the response closes call.body() itself
    # when the client leaves, which settles the call at once.
    response.body_iterator = released_after(response.body_iterator, concurrency, lease)
    return response
