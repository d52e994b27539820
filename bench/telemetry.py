"""What traces and metrics add to one chat call's CPU (issue 16: under 10 % of a call's server CPU).

    python -m bench.telemetry [--calls 20000]

In this process, with the real OpenTelemetry SDK: the spans and metric records one chat call makes (the
request's server span and FastAPI's two operation spans, admission, the cache lookup, three ledger
transactions, the provider attempt; the HTTP duration histogram, active-requests counter, credits
reserved/settled/released, a cache lookup, the attempt's counter and the usage record's call metrics),
first with nothing installed (OpenTelemetry's no-op API: the cost when everything is
off), then with the exporters `make run` and the tests use (spans kept in memory, metrics for the
Prometheus text). CPU time per call (time.process_time_ns) of each, and the added cost as a share of
the API's server CPU per call measured by `make bench` (bench/results/chat_overhead.json, or the
--server-cpu-ms given).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from opentelemetry import metrics as otel_metrics
from opentelemetry.trace import SpanKind

from shared.settings import Settings
from shared.telemetry import call_metrics, metrics, tracing

RESULTS = Path(__file__).parent / "results" / "chat_overhead.json"
RECORD = {
    "feature": "chat",
    "api": "chat",
    "model": "m",
    "provider": "p",
    "outcome": "ok",
    "input_tokens": 12,
    "output_tokens": 20,
    "ttft_ms": 30.0,
    "latency_ms": 40.0,
    "provider_ms": 25.0,
    "guardrails": [{"check": "pii", "kind": "email", "action": "mask", "count": 1}],
}


def one_call() -> None:
    """The instrumentation of one non-streamed chat call, as the API runs it."""
    http = otel_metrics.get_meter("fastapi").create_histogram("http.server.request.duration", unit="s")
    active = otel_metrics.get_meter("fastapi").create_up_down_counter("http.server.active_requests")
    attrs = {"http.route": "/v1/chat/completions", "http.request.method": "POST"}
    active.add(1, attrs)
    with tracing.span("POST /v1/chat/completions", None, SpanKind.SERVER, **attrs):
        with tracing.span("fastapi.dependencies"):
            pass
        with tracing.span("fastapi.endpoint"):
            with tracing.span("cache.lookup"):
                metrics.CACHE_LOOKUPS.add(1, {"hit": False})
            with (
                tracing.span("admission", tokens=12, want=40),
                tracing.span("ledger.transaction", operation="Ledger.reserve"),
            ):
                metrics.CREDITS.add(40, {"op": "reserved"})
            with tracing.span(
                "provider.attempt",
                kind=SpanKind.CLIENT,
                model="m",
                deployment="m@p#0",
                provider="p",
                attempt=1,
            ):
                pass
            attempt = {"model": "m", "provider": "p", "outcome": "ok", "failure": ""}
            metrics.GATEWAY_ATTEMPTS.add(1, attempt)
            with tracing.span("ledger.transaction", operation="Ledger._finish"):
                metrics.CREDITS.add(20, {"op": "settled"})
                metrics.CREDITS.add(20, {"op": "released"})
            with tracing.span("ledger.transaction", operation="Ledger.grant"):
                pass
            call_metrics.observe("hold-1", RECORD)  # the usage record's metrics
    http.record(0.012, {**attrs, "http.response.status_code": 200})
    active.add(-1, attrs)


def cpu_us_per_call(calls: int) -> float:
    for _ in range(min(1000, calls)):
        one_call()
    started = time.process_time_ns()
    for n in range(calls):
        one_call()
        if n % 2000 == 0:
            memory = tracing._state["memory"]
            if memory is not None:
                memory.clear()  # bounded, as in a long-running instance
    return (time.process_time_ns() - started) / calls / 1000


def server_cpu_ms(given: float | None) -> tuple[float | None, str]:
    if given is not None:
        return given, "given"
    try:
        data = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return None, "no make bench results"
    for row in data.get("overhead", []):  # bench/report.py: one row per server, mode and concurrency
        cpu = row.get("cpu_ms_per_req")
        if row.get("server") == "api" and isinstance(cpu, (int, float)) and cpu == cpu:
            return float(cpu), f"make bench, {row.get('mode')} at concurrency {row.get('concurrency')}"
    return None, "no server CPU in the make bench results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--server-cpu-ms", type=float, default=None)
    args = parser.parse_args()
    off = cpu_us_per_call(args.calls)
    settings = Settings(trace_exporter="memory", metrics_exporter="prometheus")
    tracing.configure_tracing(settings)
    metrics.configure_metrics(settings)
    on = cpu_us_per_call(args.calls)
    metrics.prometheus_text()  # the exporters really hold what was recorded
    added_ms = (on - off) / 1000
    print(f"telemetry per chat call: off {off:.1f} us, on {on:.1f} us, added {added_ms * 1000:.1f} us CPU")
    cpu, source = server_cpu_ms(args.server_cpu_ms)
    if cpu:
        share = added_ms / cpu
        verdict = "meets" if share < 0.10 else "misses"
        print(
            f"= {share:.1%} of the API's {cpu:.1f} ms server CPU per call ({source}): {verdict} the aim < 10%"
        )
    else:
        print(f"({source}: run `make bench` first, or pass --server-cpu-ms)")


if __name__ == "__main__":
    main()
