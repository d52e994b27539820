"""Error reports to Sentry, off unless SENTRY_DSN is set.

What leaves is the exception's type, its stack (file, function, line: no local variables), the route and
the request id (a tag: quote it to find the request's log lines). Never a request body, a header, a
cookie, a user, a breadcrumb: the SDK is told not to collect them and `scrub` removes anything that got
in. Messages and exception values go through the guardrails' recognizers: emails, phone and card
numbers, IBANs, national ids, IP addresses and secrets become `[kind]`.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.logs import request_id_var
from shared.settings import Settings
from shared.telemetry.scrub import mask

log = logging.getLogger("telemetry")

_state = {"on": False}
_DROPPED = ("request", "user", "breadcrumbs", "extra", "contexts_trace_data", "server_name")


def scrub(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's before_send: what may leave, and nothing else."""
    for key in _DROPPED:
        event.pop(key, None)
    if isinstance(event.get("message"), str):
        event["message"] = mask(event["message"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        logentry.pop("params", None)
        if isinstance(logentry.get("message"), str):
            logentry["message"] = mask(logentry["message"])
        if isinstance(logentry.get("formatted"), str):
            logentry["formatted"] = mask(logentry["formatted"])
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = mask(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
            for key in ("pre_context", "context_line", "post_context"):
                frame.pop(key, None)  # source lines: harmless, but they are our code, not needed
    request_id = request_id_var.get()
    if request_id:  # else the request's scope tagged it (tag_request)
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def tag_request(request_id: str) -> None:
    """Name the request on its Sentry scope, so an error reported after the request's context is gone
    (by the outermost error handler) still says which request it was."""
    if _state["on"]:
        import sentry_sdk

        sentry_sdk.get_isolation_scope().set_tag("request_id", request_id)


def configure_error_reports(settings: Settings) -> bool:
    """Start the Sentry client when a DSN is configured; True if it was started."""
    dsn = settings.sentry_dsn.get_secret_value() if settings.sentry_dsn else ""
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=settings.environment,
        release=settings.service_name,
        send_default_pii=False,
        include_local_variables=False,
        include_source_context=False,
        max_request_body_size="never",
        max_breadcrumbs=0,
        traces_sample_rate=0.0,
        before_send=scrub,  # type: ignore[arg-type]
    )
    _state["on"] = True
    log.info("error reports on", extra={"to": "sentry"})
    return True
