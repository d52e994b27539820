"""The native lane's failures, shaped like litellm's exceptions for the same provider answer.

litellm (1.106.2, `_map_openai_exception`) maps an OpenAI-wire provider's error by its text first and
its status second; `family` names the litellm exception class the same answer would have raised, and
`status_code` is that class's status, so shared/gateway/retry.py's classify and errors.py's translate
treat both lanes alike. The provider's response headers (Retry-After) are kept as they came.
"""

from __future__ import annotations

import re

import httpx

# litellm's status for each of its classes (what `status_code` of the raised exception says).
_STATUS = {
    "BadRequestError": 400,
    "AuthenticationError": 401,
    "NotFoundError": 404,
    "Timeout": 408,
    "RateLimitError": 429,
    "InternalServerError": 500,
    "BadGatewayError": 502,
    "ServiceUnavailableError": 503,
    "ContextWindowExceededError": 400,
    "ContentPolicyViolationError": 400,
}
_BY_STATUS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    404: "NotFoundError",
    408: "Timeout",
    422: "BadRequestError",
    429: "RateLimitError",
    500: "InternalServerError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "Timeout",
}
_CONTEXT = (
    "exceed context limit",
    "this model's maximum context length is",
    "string too long. expected a string with maximum length",
    "model's maximum context limit",
    "is longer than the model's context length",
    "input tokens exceed the configured limit",
    "`inputs` tokens + `max_new_tokens` must be",
    "exceeds the available context size",
    "exceeds the maximum number of tokens allowed",
)
_TIMEOUT_TEXT = ("Request Timeout Error", "Request timed out", "Timed out generating response")
_RATE_LIMIT = re.compile(r"rate[\s_\-]*limit")
_BARE_429 = re.compile(r"\b429\b")


class ProviderError(Exception):
    """A provider's failure on the native lane. `family` is litellm's class name for it."""

    def __init__(
        self, family: str, status_code: int | None, message: str, headers: httpx.Headers | None = None
    ) -> None:
        super().__init__(message)
        self.family = family
        self.status_code = status_code
        self.headers = headers if headers is not None else httpx.Headers()


class ProviderTimeout(ProviderError, TimeoutError):
    """A timeout (the provider's 408/504, or ours while connecting): retried like litellm's Timeout."""


class ProviderConnectionError(ProviderError, ConnectionError):
    """No HTTP answer (refused, reset, a stream cut mid-way): litellm's APIConnectionError."""


def status_error(status: int, text: str, headers: httpx.Headers) -> ProviderError:
    """The error for a provider's HTTP error answer (`text` is its body), as litellm would map it."""
    family = _family(status, text)
    code = _STATUS.get(family, status)
    if family == "Timeout":
        return ProviderTimeout(family, 504 if status == 504 else 408, text, headers)
    return ProviderError(family, code, text, headers)


def transport_error(exc: httpx.TransportError) -> ProviderError:
    """Our error for an HTTP client failure without an answer (the text never has the prompt)."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout("Timeout", 408, f"Request timed out ({type(exc).__name__})")
    return ProviderConnectionError("APIConnectionError", None, f"{type(exc).__name__}: {exc}")


def _family(status: int, text: str) -> str:
    lower = text.lower()
    if any(t in text for t in _TIMEOUT_TEXT):
        return "Timeout"
    if (_BARE_429.search(text) and status == 429) or _RATE_LIMIT.search(lower):
        return "RateLimitError"
    if "service tier capacity exceeded" in lower:
        return "RateLimitError"
    if _context_exceeded(lower):
        return "ContextWindowExceededError"
    if "invalid_request_error" in text and "model_not_found" in text:
        return "NotFoundError"
    if "A timeout occurred" in text:
        return "Timeout"
    if _content_policy(text):
        return "ContentPolicyViolationError"
    if "invalid_request_error" in text and "Incorrect API key provided" not in text:
        return "BadRequestError"
    if "Web server is returning an unknown error" in text or "The server had an error processing" in text:
        return "InternalServerError"
    if "Request too large" in text:
        return "RateLimitError"
    return _BY_STATUS.get(status, "APIError")


def _context_exceeded(lower: str) -> bool:
    if "string_above_max_length" in lower or ("invalid 'user'" in lower and "string too long" in lower):
        return False
    if any(t in lower for t in _CONTEXT):
        return True
    if "current length is" in lower and "while limit is" in lower:
        return True
    return "maximum input length is" in lower and "tokens" in lower


def _content_policy(text: str) -> bool:
    return (
        ("invalid_request_error" in text and "content_policy_violation" in text)
        or ("Invalid prompt" in text and "violating our usage policy" in text)
        or "request was rejected as a result of the safety system" in text.lower()
    )


def mid_stream(exc: ProviderError) -> ProviderError:
    """`exc` as it fails a stream that is being read: litellm's stream wrapper raises a provider's 4xx
    (but 429) as mapped and wraps everything else in MidStreamFallbackError, a ServiceUnavailableError
    whose original exception decides the classification (kept here: the class, status and headers)."""
    status = exc.status_code
    if status is not None and 400 <= status < 500 and status != 429:
        return exc
    exc.family = "ServiceUnavailableError"
    if status is None and not isinstance(exc, ProviderTimeout | ProviderConnectionError):
        exc.status_code = 503
    return exc
