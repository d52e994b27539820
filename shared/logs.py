"""JSON logs on stdout in Cloud Logging's structured format.

Cloud Logging reads `severity`, `message`, `time` and `logging.googleapis.com/trace` from each
line; every other key lands in jsonPayload. The request id and trace come from context variables
set by the API middleware, so every log line of a request carries them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
trace_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace", default=None)
# The caller's address, for the audit trail only (never put in log lines).
client_ip_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)


def caller_address(forwarded_for: str | None, peer: str | None) -> str:
    """The caller's address. Cloud Run's front end appends the address it saw to X-Forwarded-For, so the
    last hop is the one nobody can forge; earlier entries are whatever the client sent."""
    if forwarded_for:
        return forwarded_for.split(",")[-1].strip()
    return peer or "unknown"


_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "logger": record.name,
        }
        rid = request_id_var.get()
        if rid:
            payload["request_id"] = rid
        trace = trace_var.get()
        if trace:
            payload["logging.googleapis.com/trace"] = trace
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            # An exception's message may quote what it was handling: personal data and secrets masked.
            from shared.telemetry.scrub import mask

            payload["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("LiteLLM", "litellm", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
