"""The alerts and the dashboard in terraform/modules/monitoring/otel.tf read metrics the code records: a
renamed instrument would leave an alert watching nothing, silently."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Recorded by FastAPI's OpenTelemetry instrumentation, not by shared/telemetry/metrics.py.
FRAMEWORK = {"http_server_request_duration"}


def instruments() -> set[str]:
    source = (ROOT / "shared/telemetry/metrics.py").read_text()
    names = re.findall(
        r'create_(?:counter|histogram|observable_gauge|up_down_counter)\(\s*"([a-z._]+)"', source
    )
    return {name.replace(".", "_") for name in names}


def referenced() -> set[str]:
    text = (ROOT / "terraform/modules/monitoring/otel.tf").read_text()
    found = re.findall(r"workload_googleapis_com:([a-z_]+)", text)
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in found}


def test_every_metric_the_alerts_and_dashboard_read_is_recorded() -> None:
    known = instruments() | FRAMEWORK
    assert len(instruments()) >= 15
    missing = referenced() - known
    assert not missing, f"otel.tf reads metrics nothing records: {sorted(missing)}"


def test_the_gateway_and_call_metrics_are_watched() -> None:
    watched = referenced()
    for name in ("llm_ttft", "gateway_breaker_open", "gateway_overhead", "gateway_attempts", "ledger_busy"):
        assert name in watched, name
