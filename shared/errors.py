"""Typed errors. One global handler turns them into {"error": {"type", "code", "message"}}."""

from __future__ import annotations


class AppError(Exception):
    status = 500
    type = "api_error"
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"type": self.type, "code": self.code, "message": self.message}}


class BadRequest(AppError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class Unauthorized(AppError):
    status = 401
    type = "authentication_error"
    code = "invalid_credentials"


class PaymentRequired(AppError):
    status = 402
    type = "insufficient_credits"
    code = "insufficient_credits"


class Forbidden(AppError):
    status = 403
    type = "permission_error"
    code = "forbidden"


class NotFound(AppError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class Conflict(AppError):
    status = 409
    type = "conflict_error"
    code = "conflict"


class Unprocessable(AppError):
    status = 422
    type = "invalid_request_error"
    code = "unprocessable"


class RateLimited(AppError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limited"


class ServiceUnavailable(AppError):
    """One of our own backing services is down; nothing was changed. Retry later."""

    status = 503
    type = "api_error"
    code = "service_unavailable"


class UpstreamError(AppError):
    """The model provider failed; nothing was charged."""

    status = 502
    type = "provider_error"
    code = "provider_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "provider_timeout"


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "provider_unavailable"
