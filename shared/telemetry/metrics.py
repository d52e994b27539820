"""Metrics (OpenTelemetry): what the platform does, by route, model, outcome; never by user or content.

`configure_metrics(settings)` installs the process's meter provider once, with the reader of
`settings.metrics_exporter`:
- `gcp`: Cloud Monitoring (`workload.googleapis.com/...`), exported every minute;
- `prometheus`: kept for the Prometheus text at `GET /internal/metrics` (behind METRICS_TOKEN, never
  public; `make run` and the tests);
- `none`: nothing is recorded.

FastAPI's native telemetry adds the HTTP ones: `http.server.request.duration` (count and latency by route,
method and status) and active requests. The rest are the instruments below; call sites name them
(`metrics.CREDITS.add(...)`). The instruments come from the global meter proxy, so they work before the
provider is installed and cost almost nothing while it records nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from shared.settings import Settings

log = logging.getLogger("telemetry")

_state: dict[str, Any] = {"provider": None}
_meter = metrics.get_meter("ai-backend")

# Money: credits held, charged and given back (op: reserved | settled | released).
CREDITS = _meter.create_counter(
    "credits", unit="{credit}", description="Credits moved by the ledger, by operation."
)
# Error answers by machine-readable code and status (rate limits, budgets, credits, guardrails).
API_ERRORS = _meter.create_counter("api.errors", description="Error answers, by code and status.")
LEDGER_BUSY = _meter.create_counter(
    "ledger.busy", description="Ledger transactions that gave up on contention."
)
CACHE_LOOKUPS = _meter.create_counter("cache.lookups", description="Response cache lookups, by hit.")
JOB_STEPS = _meter.create_counter("job.steps", description="Job step deliveries, by job type and result.")
JOB_STEP_DURATION = _meter.create_histogram("job.step.duration", unit="s", description="Job step run time.")
WEBHOOKS = _meter.create_counter("webhooks", description="Payment webhooks, by provider and outcome.")

# The gateway (shared/gateway/observe.py): provider attempts and errors, retries, fallbacks, breakers.
GATEWAY_ATTEMPTS = _meter.create_counter(
    "gateway.attempts", description="Provider attempts, by model, provider, outcome and failure kind."
)
GATEWAY_RETRIES = _meter.create_counter(
    "gateway.retries", description="Attempts retried on the same deployment."
)
GATEWAY_FALLBACKS = _meter.create_counter(
    "gateway.fallbacks", description="Calls served by another model than the one asked for."
)
BREAKER_TRANSITIONS = _meter.create_counter(
    "gateway.breaker.transitions", description="Circuit breaker changes seen here, by deployment and state."
)
_breakers: dict[str, int] = {}  # deployment -> 1 while this instance last saw its breaker open


def breaker_changed(deployment: str, state: str) -> None:
    BREAKER_TRANSITIONS.add(1, {"deployment": deployment, "state": state})
    _breakers[deployment] = 1 if state == "open" else 0


def _breaker_states(_: metrics.CallbackOptions) -> list[metrics.Observation]:
    return [metrics.Observation(value, {"deployment": name}) for name, value in _breakers.items()]


BREAKER_OPEN = _meter.create_observable_gauge(
    "gateway.breaker.open", [_breaker_states], description="1 while a deployment's breaker is open."
)

# Model calls, from their usage records (shared/telemetry/call_metrics.py).
LLM_CALLS = _meter.create_counter(
    "llm.calls", description="Model calls, by feature, door, model and outcome."
)
LLM_TOKENS = _meter.create_counter(
    "llm.tokens", unit="{token}", description="Tokens, by model and direction."
)
LLM_TTFT = _meter.create_histogram(
    "llm.ttft",
    unit="s",
    description="Time to first token (from the request's arrival), by model and provider.",
)
LLM_TOKENS_PER_S = _meter.create_histogram(
    "llm.output_rate", unit="{token}/s", description="Output tokens per second of provider time."
)
GATEWAY_OVERHEAD = _meter.create_histogram(
    "gateway.overhead",
    unit="s",
    description="Our time before a call's first byte, less the time spent waiting on providers.",
)
GUARDRAIL_FINDINGS = _meter.create_counter(
    "guardrail.findings", description="Guardrail checks that fired, by check and action (block, mask, log)."
)


def configure_metrics(settings: Settings) -> None:
    """Install the meter provider of these settings (the first call wins: OpenTelemetry allows one)."""
    if _state["provider"] is not None or settings.metrics_exporter == "none":
        return
    readers: list[MetricReader] = []
    if settings.metrics_exporter == "prometheus":
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        readers.append(PrometheusMetricReader())
    elif settings.metrics_exporter == "gcp":
        from opentelemetry.exporter.cloud_monitoring import CloudMonitoringMetricsExporter

        exporter = CloudMonitoringMetricsExporter(project_id=settings.gcp_project)  # type: ignore[no-untyped-call]
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=60_000))
    resource = Resource.create({"service.name": settings.service_name})
    provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(provider)
    _state["provider"] = provider


def prometheus_text() -> bytes:
    """The Prometheus exposition of everything recorded in this process."""
    from prometheus_client import REGISTRY, generate_latest

    return generate_latest(REGISTRY)
