"""Provider failures, translated once from litellm's exceptions into our typed errors, and the error of a
failed media call (images, video)."""

from __future__ import annotations

import asyncio
import logging
from typing import Self

import httpx

from shared.errors import AppError, BadRequest, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from shared.gateway.lazy import loaded_exceptions
from shared.gateway.native.errors import ProviderError
from shared.gateway.retry import classify

log = logging.getLogger("gateway.errors")


class MediaFailed(UpstreamError):
    """A media provider call of a job step failed. `retryable` (the classifier's verdict) tells the job
    whether delivering the step again may help; `kind` names the failure for logs and the job's error."""

    def __init__(self, message: str, *, retryable: bool, kind: str = "other") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind

    @classmethod
    def classified(cls, exc: BaseException, message: str) -> Self:
        failure = classify(exc)
        return cls(f"{message} ({failure.kind}).", retryable=failure.retryable, kind=failure.kind)


def translate(exc: BaseException, provider: str) -> AppError:
    """Our error for a provider's failure. The provider's own text (which may name its internals, our
    account or echo the prompt) goes to the log only; clients get a stable message and code."""
    if isinstance(exc, AppError):
        return exc
    log.warning(
        "provider error",
        extra={"provider": provider, "error_type": type(exc).__name__, "provider_error": _short(exc)},
    )
    name = f"The provider '{provider}'"
    family = exc.family if isinstance(exc, ProviderError) else _family(exc)
    if family == "Timeout":
        return UpstreamTimeout(
            f"{name} did not answer in time; nothing was charged. Retry, or pick another model."
        )
    if family == "ContextWindowExceededError":
        return BadRequest(
            "The prompt and max_tokens exceed the model's context window; shorten the conversation.",
            code="context_length_exceeded",
        )
    if family == "ContentPolicyViolationError":
        return BadRequest(
            f"{name} refused the request under its content policy.", code="content_policy_violation"
        )
    if family == "RateLimitError":
        return UpstreamUnavailable(
            f"{name} is rate limiting us; nothing was charged. Retry in a few seconds.",
            code="provider_rate_limited",
            headers={"Retry-After": "5"},
        )
    if family in ("AuthenticationError", "PermissionDeniedError"):
        return UpstreamError(
            f"{name} rejected our credentials; the operator must check its API key.",
            code="provider_auth_failed",
        )
    if family == "BadRequestError":
        return BadRequest(
            f"{name} rejected the request as invalid; nothing was charged. Check the parameters and "
            "the messages, or pick another model.",
            code="provider_rejected_request",
        )
    if family == "ServiceUnavailableError":
        return UpstreamUnavailable(f"{name} is unavailable; nothing was charged. Retry later.")
    return UpstreamError(f"{name} failed ({family}); nothing was charged for the failed part. Retry.")


def _family(exc: BaseException) -> str:
    """The name translate() goes by for litellm's (or asyncio's, httpx's) exception: its class, or the
    litellm class it derives from when that decides the answer (subclasses first). litellm's classes are
    only tested once it is imported: before that no exception can be one of them."""
    lx = loaded_exceptions()
    if isinstance(exc, asyncio.TimeoutError | httpx.TimeoutException):
        return "Timeout"
    if lx is None:
        return type(exc).__name__
    if isinstance(exc, lx.Timeout):
        return "Timeout"
    for cls in (
        lx.ContextWindowExceededError,
        lx.ContentPolicyViolationError,
        lx.RateLimitError,
        lx.AuthenticationError,
        lx.PermissionDeniedError,
        lx.BadRequestError,
        lx.ServiceUnavailableError,
    ):
        if isinstance(exc, cls):
            return str(cls.__name__)
    return type(exc).__name__


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 2000 else text[:1997] + "..."
