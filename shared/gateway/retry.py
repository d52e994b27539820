"""Which provider failures are worth another try, and how long to wait before it. Pure: no I/O.

`classify` turns any exception from a provider call (litellm's mapped exceptions, the native lane's
ProviderError, raw httpx/asyncio timeouts and connection errors, or our own shared.errors types) into a
`Failure`. `RetryPolicy.delay` turns a failure and the number of tries made into a wait (exponential
backoff with full jitter, never shorter than the provider's Retry-After) or None when the caller should
stop trying this deployment.

How litellm 1.106.2 reports provider statuses (checked against a live HTTP server):
- 429 -> RateLimitError; 500 -> InternalServerError; 502 -> BadGatewayError; 503 -> ServiceUnavailableError;
  408 and 504 -> Timeout (status_code 408 / 504); no HTTP answer -> APIConnectionError.
- Anthropic's 529 "overloaded_error" -> InternalServerError with status_code 500 and "overloaded" in the
  message; the same status from an OpenAI-compatible endpoint -> APIError(status_code=529).
- The provider's response headers (retry-after, retry-after-ms) survive only in `litellm_response_headers`;
  `response.headers` of the mapped exception is usually a rebuilt response without them.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from shared.errors import AppError, BadRequest, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from shared.gateway.lazy import loaded_exceptions, loaded_sdk_errors
from shared.gateway.native.errors import ProviderError

Kind = Literal[
    "rate_limited",
    "overloaded",
    "unavailable",
    "timeout",
    "connection",
    "server_error",
    "client_error",
    "auth",
    "content_policy",
    "context_window",
    "other",
]

# Failures that say something about the deployment (not about the request): the router reports
# these to the circuit breaker and may move on to the next deployment. Everything else (a bad
# request, a refusal, a client disconnect, a bug of ours) is the same on every deployment.
PROVIDER_FAULTS: frozenset[str] = frozenset(
    {"rate_limited", "overloaded", "unavailable", "timeout", "connection", "server_error", "auth"}
)


# The native lane's errors (shared/gateway/native/errors.py) named as litellm's refusal classes.
_NATIVE_REFUSALS = {
    "ContentPolicyViolationError": "content_policy",
    "ContextWindowExceededError": "context_window",
}


@dataclass(frozen=True)
class Failure:
    retryable: bool
    retry_after: float | None  # seconds, from Retry-After / retry-after-ms when the provider sent them
    kind: str  # one of Kind
    status: int | None = None  # the provider's HTTP status, when there was one

    @property
    def provider_fault(self) -> bool:
        """True when the failure counts against the deployment (report it to the breaker, try the
        next deployment); False when it is the request's fault and would fail anywhere."""
        return self.kind in PROVIDER_FAULTS


def classify(exc: BaseException, *, clock: Callable[[], float] = time.time) -> Failure:
    """What kind of failure `exc` is, whether to retry it, and the provider's Retry-After if any.

    `clock` (unix seconds) is only read to turn a Retry-After HTTP date into seconds."""
    if isinstance(exc, AppError):
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, AppError):
            # The gateway raises translate(exc) from exc: the original carries status and headers.
            return classify(cause, clock=clock)
        return _classify_app_error(exc)

    # litellm's and the OpenAI SDK's classes are tested only once they are imported: before that, no
    # exception can be one of them (shared/gateway/lazy.py), and the native lane raises ProviderError.
    lx = loaded_exceptions()
    if (
        lx is not None
        and isinstance(exc, lx.MidStreamFallbackError)
        and isinstance(exc.original_exception, BaseException)
    ):
        # A stream that broke: what broke it (a 429, a content filter, a dropped connection) decides.
        inner = classify(exc.original_exception, clock=clock)
        if inner.kind != "other":
            return inner
    retry_after = _retry_after(exc, clock)
    # Subclasses of BadRequestError first: they carry status 400 too.
    if lx is not None and isinstance(exc, lx.ContentPolicyViolationError):
        return Failure(False, None, "content_policy", 400)
    if lx is not None and isinstance(exc, lx.ContextWindowExceededError):
        return Failure(False, None, "context_window", 400)
    if isinstance(exc, ProviderError) and exc.family in _NATIVE_REFUSALS:
        return Failure(False, None, _NATIVE_REFUSALS[exc.family], 400)
    sdk_timeout, sdk_connection = loaded_sdk_errors()
    # litellm.Timeout is an openai.APITimeoutError, itself an openai.APIConnectionError: timeouts first.
    if isinstance(exc, sdk_timeout | httpx.TimeoutException | TimeoutError):
        return Failure(True, retry_after, "timeout", _status(exc))
    if isinstance(exc, sdk_connection | httpx.NetworkError | httpx.RemoteProtocolError):
        return Failure(True, retry_after, "connection", None)
    if isinstance(exc, httpx.ProxyError | ConnectionError):
        return Failure(True, retry_after, "connection", None)
    status = _status(exc)
    if status is not None and status >= 400:
        return _classify_status(status, str(exc), retry_after)
    return Failure(False, None, "other", status)


def _classify_status(status: int, message: str, retry_after: float | None) -> Failure:
    if status == 429:
        return Failure(True, retry_after, "rate_limited", status)
    if status == 529 or (status == 500 and "overloaded" in message.lower()):
        return Failure(True, retry_after, "overloaded", status)
    if status == 503:
        return Failure(True, retry_after, "unavailable", status)
    if status in (408, 504):
        return Failure(True, retry_after, "timeout", status)
    if status in (401, 403):
        return Failure(False, None, "auth", status)
    if status == 402:
        # The provider account is out of funds: the operator must act, like a revoked key.
        return Failure(False, None, "auth", status)
    if status < 500:
        return Failure(False, None, "client_error", status)
    if status in (501, 505):  # not implemented / version not supported: the same answer next time
        return Failure(False, None, "server_error", status)
    return Failure(True, retry_after, "server_error", status)


def _classify_app_error(exc: AppError) -> Failure:
    # Retry-After on our own errors is what we tell our client, not what the provider sent: ignored.
    if isinstance(exc, UpstreamTimeout):
        return Failure(True, None, "timeout", None)
    if isinstance(exc, UpstreamUnavailable):
        kind = "rate_limited" if exc.code == "provider_rate_limited" else "unavailable"
        return Failure(True, None, kind, None)
    if isinstance(exc, UpstreamError):
        if exc.code == "provider_auth_failed":
            return Failure(False, None, "auth", None)
        return Failure(True, None, "server_error", None)
    if isinstance(exc, BadRequest):
        if exc.code == "context_length_exceeded":
            return Failure(False, None, "context_window", None)
        if exc.code == "content_policy_violation":
            return Failure(False, None, "content_policy", None)
        return Failure(False, None, "client_error", None)
    return Failure(False, None, "other", None)


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None and isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    return None


def _headers(exc: BaseException) -> dict[str, str]:
    """The provider's response headers, lower-cased, merged from every place litellm may keep them.
    Earlier sources win: litellm_response_headers holds the provider's own headers."""
    merged: dict[str, str] = {}
    response = getattr(exc, "response", None)
    sources: list[Any] = [
        getattr(exc, "litellm_response_headers", None),
        getattr(exc, "headers", None),
        getattr(response, "headers", None) if response is not None else None,
    ]
    for source in sources:
        for key, value in _items(source):
            merged.setdefault(key.lower(), value)
    return merged


def _items(source: Any) -> Iterable[tuple[str, str]]:
    if isinstance(source, httpx.Headers):
        return list(source.items())
    if isinstance(source, Mapping):
        return [(str(k), str(v)) for k, v in source.items()]
    return []


def _retry_after(exc: BaseException, clock: Callable[[], float]) -> float | None:
    headers = _headers(exc)
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms):
            return max(0.0, ms) / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    return parse_retry_after(raw, clock())


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date (a past date -> 0)."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP date is always GMT
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3  # tries per deployment, first included
    base_s: float = 0.25
    cap_s: float = 8.0
    max_retry_after_s: float = 20.0  # a longer Retry-After means: don't wait, move to the next deployment

    def delay(
        self, attempt: int, failure: Failure, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before try number attempt + 1, or None to stop trying this deployment.

        attempt is the number of tries already made (1 after the first failure). Full jitter:
        rand() * min(cap_s, base_s * 2 ** (attempt - 1)); a provider's Retry-After is a floor."""
        if attempt < 1:
            raise ValueError("attempt counts the tries already made; it starts at 1")
        if not failure.retryable or attempt >= self.max_attempts:
            return None
        if failure.retry_after is not None and failure.retry_after > self.max_retry_after_s:
            return None
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, 60))
        jittered = rand() * ceiling
        if failure.retry_after is not None:
            return max(failure.retry_after, jittered)
        return jittered
