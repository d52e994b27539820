"""Failure classification and the retry policy. Exceptions are real litellm / httpx / shared.errors
instances. How litellm itself maps provider statuses is pinned in test_gateway_retry_litellm.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import os
from typing import TypeVar

import httpx
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm
from litellm import exceptions as lx

from shared.errors import (
    BadRequest,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from shared.gateway.retry import Failure, RetryPolicy, classify, parse_retry_after
from tests.support.gateway import translated

litellm.suppress_debug_info = True

E = TypeVar("E", bound=BaseException)
NOW = 1_800_000_000.0
REQ = httpx.Request("POST", "https://provider.example/v1/chat/completions")


def with_headers(exc: E, headers: dict[str, str]) -> E:
    """What litellm's exception_type() does: the provider's headers kept on the mapped exception."""
    exc.litellm_response_headers = httpx.Headers(headers)  # type: ignore[attr-defined]
    return exc


ANTHROPIC_OVERLOADED = (
    'AnthropicError - {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
)

# (case id, exception, retryable, kind, status)
TABLE: list[tuple[str, BaseException, bool, str, int | None]] = [
    (
        "rate_limit",
        lx.RateLimitError("slow down", llm_provider="openai", model="m"),
        True,
        "rate_limited",
        429,
    ),
    (
        "anthropic_529_overloaded",
        lx.InternalServerError(ANTHROPIC_OVERLOADED, llm_provider="anthropic", model="claude"),
        True,
        "overloaded",
        500,
    ),
    (
        "openai_like_529",
        lx.APIError(status_code=529, message="Overloaded", llm_provider="openai", model="m"),
        True,
        "overloaded",
        529,
    ),
    (
        "service_unavailable",
        lx.ServiceUnavailableError("down", llm_provider="openai", model="m"),
        True,
        "unavailable",
        503,
    ),
    (
        "internal_500",
        lx.InternalServerError("boom", llm_provider="openai", model="m"),
        True,
        "server_error",
        500,
    ),
    (
        "bad_gateway_502",
        lx.BadGatewayError("bad gw", llm_provider="openai", model="m"),
        True,
        "server_error",
        502,
    ),
    (
        "api_error_504",
        lx.APIError(status_code=504, message="gw timeout", llm_provider="x", model="m"),
        True,
        "timeout",
        504,
    ),
    (
        "api_error_501",
        lx.APIError(status_code=501, message="nope", llm_provider="x", model="m"),
        False,
        "server_error",
        501,
    ),
    ("timeout", lx.Timeout("slow", model="m", llm_provider="openai"), True, "timeout", 408),
    (
        "timeout_504",
        lx.Timeout("gw", model="m", llm_provider="anthropic", exception_status_code=504),
        True,
        "timeout",
        504,
    ),
    (
        "connection",
        lx.APIConnectionError("refused", llm_provider="openai", model="m"),
        True,
        "connection",
        None,
    ),
    (
        "bad_request_400",
        lx.BadRequestError("bad", model="m", llm_provider="openai"),
        False,
        "client_error",
        400,
    ),
    ("auth_401", lx.AuthenticationError("key", llm_provider="openai", model="m"), False, "auth", 401),
    (
        "permission_403",
        lx.PermissionDeniedError(
            "no", llm_provider="openai", model="m", response=httpx.Response(403, request=REQ)
        ),
        False,
        "auth",
        403,
    ),
    (
        "api_error_403",
        lx.APIError(status_code=403, message="no", llm_provider="openai", model="m"),
        False,
        "auth",
        403,
    ),
    ("not_found_404", lx.NotFoundError("gone", model="m", llm_provider="openai"), False, "client_error", 404),
    (
        "content_policy",
        lx.ContentPolicyViolationError("refused", model="m", llm_provider="openai"),
        False,
        "content_policy",
        400,
    ),
    (
        "context_window",
        lx.ContextWindowExceededError("too long", model="m", llm_provider="openai"),
        False,
        "context_window",
        400,
    ),
    ("httpx_read_timeout", httpx.ReadTimeout("read", request=REQ), True, "timeout", None),
    ("httpx_connect_timeout", httpx.ConnectTimeout("connect", request=REQ), True, "timeout", None),
    ("httpx_connect_error", httpx.ConnectError("refused", request=REQ), True, "connection", None),
    ("httpx_stream_cut", httpx.RemoteProtocolError("peer closed", request=REQ), True, "connection", None),
    (
        "httpx_status_503",
        httpx.HTTPStatusError("503", request=REQ, response=httpx.Response(503, request=REQ)),
        True,
        "unavailable",
        503,
    ),
    ("builtin_timeout", TimeoutError(), True, "timeout", None),
    ("connection_reset", ConnectionResetError(), True, "connection", None),
    ("our_timeout", UpstreamTimeout("slow"), True, "timeout", None),
    ("our_unavailable", UpstreamUnavailable("down"), True, "unavailable", None),
    (
        "our_rate_limited",
        UpstreamUnavailable("busy", code="provider_rate_limited"),
        True,
        "rate_limited",
        None,
    ),
    ("our_upstream_error", UpstreamError("failed"), True, "server_error", None),
    ("our_auth", UpstreamError("key", code="provider_auth_failed"), False, "auth", None),
    ("our_context", BadRequest("long", code="context_length_exceeded"), False, "context_window", None),
    ("our_policy", BadRequest("no", code="content_policy_violation"), False, "content_policy", None),
    ("our_bad_request", BadRequest("bad"), False, "client_error", None),
    ("our_user_rate_limit", RateLimited("you"), False, "other", None),
    ("our_not_found", NotFound("x"), False, "other", None),
    (
        "translated_overloaded",
        translated(lx.InternalServerError(ANTHROPIC_OVERLOADED, llm_provider="anthropic", model="c")),
        True,
        "overloaded",
        500,
    ),
    (
        "translated_policy",
        translated(lx.ContentPolicyViolationError("no", model="m", llm_provider="openai")),
        False,
        "content_policy",
        400,
    ),
    (
        "stream_cut_by_rate_limit",
        lx.MidStreamFallbackError(
            "cut",
            model="m",
            llm_provider="openai",
            original_exception=lx.RateLimitError("slow", llm_provider="openai", model="m"),
        ),
        True,
        "rate_limited",
        429,
    ),
    (
        "stream_cut_by_content_filter",
        lx.MidStreamFallbackError(
            "filtered",
            model="m",
            llm_provider="openai",
            original_exception=lx.ContentPolicyViolationError("no", model="m", llm_provider="openai"),
        ),
        False,
        "content_policy",
        400,
    ),
    (
        "stream_cut_unknown_cause",
        lx.MidStreamFallbackError("cut", model="m", llm_provider="openai", original_exception=KeyError("x")),
        True,
        "unavailable",
        503,
    ),
    ("bug", ValueError("bug"), False, "other", None),
    ("cancelled", asyncio.CancelledError(), False, "other", None),
]


@pytest.mark.parametrize(
    ("exc", "retryable", "kind", "status"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_classification_table(exc: BaseException, retryable: bool, kind: str, status: int | None) -> None:
    failure = classify(exc)
    assert (failure.retryable, failure.kind, failure.status) == (retryable, kind, status)
    assert failure.retry_after is None


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("rate_limited", True),
        ("overloaded", True),
        ("unavailable", True),
        ("timeout", True),
        ("connection", True),
        ("server_error", True),
        ("auth", True),
        ("client_error", False),
        ("content_policy", False),
        ("context_window", False),
        ("other", False),
    ],
)
def test_provider_fault_is_about_the_deployment_not_the_request(kind: str, fault: bool) -> None:
    assert Failure(False, None, kind).provider_fault is fault


def test_retry_after_seconds_from_litellm_response_headers() -> None:
    exc = with_headers(lx.RateLimitError("slow", llm_provider="openai", model="m"), {"Retry-After": "7"})
    assert classify(exc) == Failure(True, 7.0, "rate_limited", 429)


def test_retry_after_ms_wins_over_seconds() -> None:
    exc = with_headers(
        lx.ServiceUnavailableError("down", llm_provider="openai", model="m"),
        {"retry-after": "3", "retry-after-ms": "1500"},
    )
    assert classify(exc).retry_after == 1.5


def test_retry_after_http_date() -> None:
    date = email.utils.format_datetime(dt.datetime.fromtimestamp(NOW + 12, dt.UTC), usegmt=True)
    exc = with_headers(lx.RateLimitError("slow", llm_provider="openai", model="m"), {"retry-after": date})
    assert classify(exc, clock=lambda: NOW).retry_after == 12.0


def test_retry_after_from_the_response_headers() -> None:
    response = httpx.Response(429, headers={"retry-after": "4"}, request=REQ)
    exc = lx.RateLimitError("slow", llm_provider="openai", model="m", response=response)
    assert classify(exc).retry_after == 4.0


def test_retry_after_of_the_original_behind_our_typed_error() -> None:
    exc = translated(with_headers(lx.RateLimitError("x", llm_provider="p", model="m"), {"retry-after": "2"}))
    assert isinstance(exc, UpstreamUnavailable)
    assert exc.headers == {"Retry-After": "5"}  # what we tell our client; not the provider's value
    assert classify(exc) == Failure(True, 2.0, "rate_limited", 429)


def test_retry_after_is_ignored_on_non_retryable_failures() -> None:
    exc = with_headers(lx.BadRequestError("bad", model="m", llm_provider="openai"), {"retry-after": "1"})
    assert classify(exc) == Failure(False, None, "client_error", 400)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Thu, 15 Jan 2027 08:00:30 GMT", 30.0),
        ("Thu, 15 Jan 2027 07:59:00 GMT", 0.0),  # in the past
        ("Thu, 15 Jan 2027 08:00:10 -0000", 10.0),
        ("soon", None),
        ("", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    now = dt.datetime(2027, 1, 15, 8, 0, 0, tzinfo=dt.UTC).timestamp()
    assert parse_retry_after(value, now) == expected


RETRYABLE = Failure(True, None, "server_error", 500)


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 0.0), (0.5, 0.125), (0.999, 0.24975)])
def test_first_backoff_is_full_jitter_under_base(rand: float, expected: float) -> None:
    assert RetryPolicy().delay(1, RETRYABLE, rand=lambda: rand) == pytest.approx(expected)


@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999])
def test_backoff_grows_exponentially_and_is_capped(rand: float) -> None:
    policy = RetryPolicy(max_attempts=10, base_s=0.25, cap_s=8.0)
    delays = [policy.delay(attempt, RETRYABLE, rand=lambda: rand) for attempt in range(1, 10)]
    ceilings = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert delays == pytest.approx([rand * c for c in ceilings])
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert delay is not None
        assert 0.0 <= delay < ceiling


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10_000)
    assert policy.delay(5_000, RETRYABLE, rand=lambda: 0.5) == 4.0


def test_default_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=4)
    for _ in range(200):
        delay = policy.delay(3, RETRYABLE)
        assert delay is not None
        assert 0.0 <= delay < 1.0


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy()
    waited = Failure(True, 3.0, "rate_limited", 429)
    assert policy.delay(1, waited, rand=lambda: 0.999) == 3.0
    short = Failure(True, 0.1, "rate_limited", 429)
    assert policy.delay(2, short, rand=lambda: 0.999) == pytest.approx(0.4995)  # jitter beats 0.1 s


def test_retry_after_from_headers_flows_into_the_delay() -> None:
    ms = with_headers(lx.RateLimitError("x", llm_provider="p", model="m"), {"retry-after-ms": "1200"})
    date = email.utils.format_datetime(dt.datetime.fromtimestamp(NOW + 9, dt.UTC), usegmt=True)
    dated = with_headers(lx.RateLimitError("x", llm_provider="p", model="m"), {"retry-after": date})
    policy = RetryPolicy()
    assert policy.delay(1, classify(ms), rand=lambda: 0.0) == 1.2
    assert policy.delay(1, classify(dated, clock=lambda: NOW), rand=lambda: 0.0) == 9.0


def test_a_retry_after_beyond_the_limit_means_move_on() -> None:
    policy = RetryPolicy(max_retry_after_s=20.0)
    assert policy.delay(1, Failure(True, 20.0, "rate_limited", 429), rand=lambda: 0.0) == 20.0
    assert policy.delay(1, Failure(True, 20.5, "rate_limited", 429), rand=lambda: 0.0) is None


def test_attempts_exhausted() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.delay(2, RETRYABLE, rand=lambda: 0.5) is not None
    assert policy.delay(3, RETRYABLE, rand=lambda: 0.5) is None
    assert policy.delay(4, RETRYABLE, rand=lambda: 0.5) is None
    assert RetryPolicy(max_attempts=1).delay(1, RETRYABLE, rand=lambda: 0.5) is None


@pytest.mark.parametrize(
    "exc",
    [
        lx.BadRequestError("bad", model="m", llm_provider="openai"),
        lx.AuthenticationError("key", llm_provider="openai", model="m"),
        lx.ContentPolicyViolationError("no", model="m", llm_provider="openai"),
        lx.ContextWindowExceededError("long", model="m", llm_provider="openai"),
        lx.NotFoundError("gone", model="m", llm_provider="openai"),
    ],
    ids=["400", "401", "content_policy", "context_window", "404"],
)
def test_non_retryable_is_never_retried(exc: BaseException) -> None:
    assert RetryPolicy(max_attempts=5).delay(1, classify(exc), rand=lambda: 0.5) is None


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        RetryPolicy().delay(0, RETRYABLE)
