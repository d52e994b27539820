"""One error shape for every failure: {"error": {"type", "code", "message"}}; on Anthropic's door
(`/v1/messages`), Anthropic's shape {"type": "error", "error": {"type", "message"}} with its statuses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import AppError
from shared.protocols import anthropic_response as anthropic
from shared.protocols import openai_responses_response as responses_shape
from shared.telemetry import metrics

log = logging.getLogger("api.errors")

_HTTP_CODES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_credentials"),
    403: ("permission_error", "forbidden"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
}


def error_response(
    status: int,
    type_: str,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
) -> JSONResponse:
    metrics.API_ERRORS.add(1, {"code": code, "status": status})
    if request is not None and request.url.path.startswith(anthropic.DOOR_PATH):
        status = anthropic.error_status(status, code)
        return JSONResponse(anthropic.error_body(status, message), status_code=status, headers=headers)
    return JSONResponse(
        {"error": {"type": type_, "code": code, "message": message}}, status_code=status, headers=headers
    )


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg')}")
    return "; ".join(parts) or "the request body is not valid"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("request failed", extra={"code": exc.code, "status": exc.status})
        return error_response(exc.status, exc.type, exc.code, exc.message, exc.headers, request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Anthropic's Messages, OpenAI's Responses and Uploads answer a malformed request with 400; the
        # other routes keep FastAPI's 422.
        path = request.url.path
        status = (
            400 if path.startswith((anthropic.DOOR_PATH, responses_shape.DOOR_PATH, "/v1/uploads")) else 422
        )
        return error_response(
            status, "invalid_request_error", "invalid_request", _describe(exc), None, request
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_, code = _HTTP_CODES.get(exc.status_code, ("api_error", "http_error"))
        headers = getattr(exc, "headers", None)
        return error_response(exc.status_code, type_, code, str(exc.detail), headers, request)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(
            500,
            "api_error",
            "internal_error",
            "Something went wrong on our side; retry later, and quote the X-Request-ID.",
            None,
            request,
        )
