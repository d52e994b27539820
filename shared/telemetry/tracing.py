"""Traces (OpenTelemetry): a span per request (FastAPI's native telemetry makes it, with the route and the
status) with children for admission, each ledger transaction, each provider attempt, cache lookups and
job steps, continuing the caller's trace.

`configure_tracing(settings)` installs the process's tracer provider once, with the exporter of
`settings.trace_exporter`:
- `gcp`: Cloud Trace, in batches; the API flushes them when a response ends (Cloud Run throttles the CPU
  after it, so a batch left for later may never leave);
- `console`: one JSON line per span on stderr (`make run`);
- `memory`: kept in memory (`memory_spans()`, the tests read the span tree from it);
- `none`: nothing is recorded.

The incoming trace is continued from W3C `traceparent` or Google's `X-Cloud-Trace-Context`
(`TRACE/SPAN;o=1`, the span id in decimal). A job's Cloud Task and Pub/Sub events carry `traceparent`
(`carrier()`), so its steps join the request that created it. No span attribute holds content: ids,
models, counts and outcomes only.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import (
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.settings import Settings

log = logging.getLogger("telemetry")

TRACER_NAME = "ai-backend"
_W3C = TraceContextTextMapPropagator()
_state: dict[str, Any] = {"provider": None, "memory": None, "batched": False, "kinds": set()}

Attr = str | int | float | bool


class _ConsoleLines(SpanExporter):
    """One compact JSON line per finished span, on stderr (stdout is the structured log)."""

    def export(self, spans: Any) -> SpanExportResult:
        for span in spans:
            ctx = span.get_span_context()
            line = {
                "span": span.name,
                "trace": f"{ctx.trace_id:032x}",
                "id": f"{ctx.span_id:016x}",
                "parent": f"{span.parent.span_id:016x}" if span.parent else None,
                "ms": round(((span.end_time or 0) - (span.start_time or 0)) / 1e6, 3),
                "attributes": dict(span.attributes or {}),
            }
            sys.stderr.write(json.dumps(line, default=str) + "\n")
        return SpanExportResult.SUCCESS


class CloudTraceHeader(TextMapPropagator):
    """Google's `X-Cloud-Trace-Context: TRACE/SPAN;o=1` (the span id in decimal), read only: what Cloud
    Run's front end and Google's clients send. Put before W3C's, which wins when both are present."""

    HEADER = "x-cloud-trace-context"

    def extract(
        self, carrier: Any, context: context.Context | None = None, getter: Getter[Any] = default_getter
    ) -> context.Context:
        found = getter.get(carrier, self.HEADER) or getter.get(carrier, "X-Cloud-Trace-Context")
        remote = _cloud_trace_span(found[0]) if found else None
        if remote is None:
            return context if context is not None else otel_context.get_current()
        return trace.set_span_in_context(NonRecordingSpan(remote), context)

    def inject(
        self, carrier: Any, context: context.Context | None = None, setter: Setter[Any] = default_setter
    ) -> None:
        return None

    @property
    def fields(self) -> set[str]:
        return {self.HEADER}


def _cloud_trace_span(raw: str) -> SpanContext | None:
    trace_part, _, rest = raw.partition("/")
    span_part = rest.split(";", 1)[0]
    try:
        trace_id, span_id = int(trace_part, 16), int(span_part or "0")
    except ValueError:
        return None
    if not 0 < trace_id < 2**128 or not 0 < span_id < 2**64:
        return None
    flags = TraceFlags(TraceFlags.SAMPLED if "o=1" in rest or "o=" not in rest else TraceFlags.DEFAULT)
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=flags)


def configure_tracing(settings: Settings) -> None:
    """Install the process's tracer provider (once: OpenTelemetry allows one) and the exporter these
    settings name (each kind once: an app built again with other settings adds its exporter)."""
    provider = _state["provider"]
    if provider is None:
        resource = Resource.create(
            {"service.name": settings.service_name, "deployment.environment": settings.environment}
        )
        provider = TracerProvider(resource=resource)
        trace.set_tracer_provider(provider)
        # FastAPI's own request spans continue the caller's trace through the global propagator.
        propagate.set_global_textmap(CompositePropagator([CloudTraceHeader(), _W3C]))
        _state["provider"] = provider
    kind = settings.trace_exporter
    if kind in _state["kinds"]:
        return
    _state["kinds"].add(kind)
    if kind == "memory":
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        _state["memory"] = memory
    elif kind == "console":
        provider.add_span_processor(SimpleSpanProcessor(_ConsoleLines()))
    elif kind == "gcp":
        from opentelemetry.exporter.cloud_trace import CloudTraceSpanExporter

        exporter = CloudTraceSpanExporter(project_id=settings.gcp_project)  # type: ignore[no-untyped-call]
        provider.add_span_processor(BatchSpanProcessor(exporter))
        _state["batched"] = True


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


@contextmanager
def span(
    name: str,
    parent: context.Context | None = None,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    **attributes: Attr | None,
) -> Iterator[trace.Span]:
    """A child of the current span (or of `parent`); an exception marks it failed (and goes on)."""
    with tracer().start_as_current_span(name, context=parent, kind=kind, record_exception=False) as current:
        for key, value in attributes.items():
            if value is not None:
                current.set_attribute(key, value)
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def parent_from(headers: Mapping[str, str]) -> context.Context | None:
    """The caller's trace: W3C `traceparent` first, else `X-Cloud-Trace-Context`; None if neither."""
    ctx = _W3C.extract({k.lower(): v for k, v in headers.items()}, context.Context())
    if trace.get_current_span(ctx).get_span_context().is_valid:
        return ctx
    remote = _cloud_trace_span(headers.get("x-cloud-trace-context", ""))
    return trace.set_span_in_context(NonRecordingSpan(remote), context.Context()) if remote else None


def carrier() -> dict[str, str]:
    """The current trace as `traceparent`, to carry in a task's payload or a message's attributes."""
    out: dict[str, str] = {}
    _W3C.inject(out)
    return out


def trace_id_hex() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.is_valid else None


def flush() -> None:
    """Send what is batched now (Cloud Trace); nothing to do for the other exporters."""
    provider = _state["provider"]
    if provider is not None and _state["batched"]:
        provider.force_flush(timeout_millis=2000)


def memory_spans() -> list[ReadableSpan]:
    memory = _state["memory"]
    return list(memory.get_finished_spans()) if memory is not None else []
