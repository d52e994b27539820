"""Pure ASGI middleware (it does not buffer streams): request id, trace, access log, body size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import request_id_var, trace_from_headers, trace_var

log = logging.getLogger("api.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, project: str, max_body: int) -> None:
        self.app = app
        self.project = project
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        rid_token = request_id_var.set(request_id)
        trace_token = trace_var.set(trace_from_headers(headers, self.project))
        started = time.perf_counter()
        status = {"code": 500}

        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send, request_id)
            request_id_var.reset(rid_token)
            trace_var.reset(trace_token)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
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

    async def _too_large(self, send: Send, request_id: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "request_too_large",
                    "message": f"The request body is larger than {self.max_body} bytes.",
                }
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode())],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
