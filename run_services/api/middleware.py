"""Pure ASGI middleware (it does not buffer streams): request id, trace, access log, body size limit and
security headers.

The body limit counts bytes as `receive` hands them over, so a chunked body (no Content-Length) is
refused as soon as it passes the limit, like a declared one, and the rest is never read. Once the limit
is passed the client gets our 413 whatever the app then tries to send (a route that turned the refusal
into a 400 must not hide it). A route may have its own limit (`route_limits`, by exact path, or
`pattern_limits`, by a pattern of paths with ids): chat completions take images, audio and files as data:
URLs, so theirs is larger than everyone else's; an upload's part is up to 8 MB.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import caller_address, client_ip_var, request_id_var, trace_var
from shared.protocols import anthropic_response as anthropic
from shared.telemetry import error_reports, metrics, tracing

log = logging.getLogger("api.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HSTS = b"max-age=63072000; includeSubDomains"
# Responses of these routes carry passwords' results, tokens or API keys: never stored by any cache.
NO_STORE_PREFIXES = ("/v1/auth", "/v1/api-keys")


class BodyTooLarge(HTTPException):
    """Raised from `receive` past the limit. An HTTPException, so FastAPI's body parsing lets it through
    unchanged instead of calling it a malformed body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes; send a smaller one.")


def security_headers(hsts: bool) -> list[tuple[bytes, bytes]]:
    """Headers every response gets; Cache-Control is added by the caller only where none is set."""
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    if hsts:
        headers.append((b"strict-transport-security", HSTS))
    return headers


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        project: str,
        max_body: int,
        hsts: bool = False,
        route_limits: dict[str, int] | None = None,
        pattern_limits: list[tuple[str, int]] | None = None,
    ) -> None:
        self.app = app
        self.project = project
        self.max_body = max_body
        self.hsts = hsts
        self.route_limits = route_limits or {}
        # Limits of paths with an id in them (an upload's parts): (full-match pattern, bytes).
        self.pattern_limits = [(re.compile(p), n) for p, n in pattern_limits or []]

    def _limit(self, path: str) -> int:
        if path in self.route_limits:
            return self.route_limits[path]
        return next((n for p, n in self.pattern_limits if p.fullmatch(path)), self.max_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        # FastAPI's own span of this request (its native telemetry, continuing the caller's trace) is current:
        # the log lines name its trace, and in the cloud its batch leaves before the instance is throttled.
        try:
            await self._handle(scope, receive, send, headers)
        finally:
            tracing.flush()

    async def _handle(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> int:
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        rid_token = request_id_var.set(request_id)
        error_reports.tag_request(request_id)
        trace_id = tracing.trace_id_hex()
        trace_token = trace_var.set(f"projects/{self.project}/traces/{trace_id}" if trace_id else None)
        peer = scope.get("client")
        ip_token = client_ip_var.set(
            caller_address(headers.get("x-forwarded-for"), peer[0] if peer else None)
        )
        started = time.perf_counter()
        status = {"code": 500}
        extra_headers = security_headers(self.hsts)
        no_store = scope["path"].startswith(NO_STORE_PREFIXES)
        limit = self._limit(scope["path"].rstrip("/"))

        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, request_id, extra_headers, limit, scope["path"])
            request_id_var.reset(rid_token)
            trace_var.reset(trace_token)
            client_ip_var.reset(ip_token)
            return 413

        received = 0
        refused = False
        answered = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise BodyTooLarge(limit)
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal answered
            if refused:  # whatever the app answers, the client learns its body was too large
                if not answered:
                    answered = True
                    status["code"] = 413
                    await self._too_large(send, request_id, extra_headers, limit, scope["path"])
                return
            if message["type"] == "http.response.start":
                answered = True
                status["code"] = message["status"]
                out = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not (no_store and k.lower() == b"cache-control")
                ]
                if no_store or not any(k.lower() == b"cache-control" for k, _ in out):
                    out.append((b"cache-control", b"no-store"))
                out.extend(extra_headers)
                out.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": out}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except BodyTooLarge:
            if not answered:
                answered = True
                status["code"] = 413
                await self._too_large(send, request_id, extra_headers, limit, scope["path"])
        except Exception:
            # Unexpected: answered here, inside the request's context, so the 500 carries the request id
            # and the security headers like every other answer (the client quotes the id to support).
            log.exception("unhandled error")
            if answered:  # a stream already under way: nothing more can be said, the connection goes
                raise
            answered = True
            status["code"] = 500
            await self._internal_error(send, request_id, extra_headers, scope["path"])
        finally:
            extra: dict[str, Any] = {
                "httpRequest": {
                    "requestMethod": scope["method"],
                    "requestUrl": scope["path"],
                    "status": status["code"],
                    "latency": f"{time.perf_counter() - started:.6f}s",
                },
            }
            log.info("request", extra=extra)
            request_id_var.reset(rid_token)
            trace_var.reset(trace_token)
            client_ip_var.reset(ip_token)
        return status["code"]

    async def _internal_error(
        self, send: Send, request_id: str, extra: list[tuple[bytes, bytes]], path: str
    ) -> None:
        message = "Something went wrong on our side; retry later, and quote the X-Request-ID."
        metrics.API_ERRORS.add(1, {"code": "internal_error", "status": 500})
        error = {"type": "api_error", "code": "internal_error", "message": message}
        await _answer(send, request_id, extra, 500, error, path, [])

    async def _too_large(
        self, send: Send, request_id: str, extra: list[tuple[bytes, bytes]], limit: int, path: str
    ) -> None:
        message = f"The request body is larger than {limit} bytes; send a smaller one."
        error = {"type": "invalid_request_error", "code": "request_too_large", "message": message}
        await _answer(send, request_id, extra, 413, error, path, [(b"connection", b"close")])


async def _answer(
    send: Send,
    request_id: str,
    extra: list[tuple[bytes, bytes]],
    status: int,
    error: dict[str, str],
    path: str,
    more: list[tuple[bytes, bytes]],
) -> None:
    """An error answered by the middleware itself, in the door's shape (Anthropic's on its door, as its
    SDKs expect), with the request id and the security headers every answer carries."""
    if path.startswith(anthropic.DOOR_PATH):
        payload: dict[str, object] = anthropic.error_body(status, error["message"])
    else:
        payload = {"error": error}
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *more,
        *extra,
        (b"x-request-id", request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
