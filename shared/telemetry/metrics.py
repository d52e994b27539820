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
