"""What the router tells about each provider attempt: a log line, metrics, and a span around the call.

Metrics (shared/telemetry/metrics.py), by model, provider and outcome, never by user:
- `gateway.attempts`: every attempt (outcome ok, failed, refused, failed_mid_stream, skipped_*), with the
  failure's kind (rate_limited, timeout, ...): provider errors are the ones with a failure;
- `gateway.retries`: failed attempts the router tries again on the same deployment;
- `gateway.fallbacks`: calls served by another model than the one asked for (requested -> served).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TypeVar

from opentelemetry import trace

from shared.gateway.retry import Failure
from shared.gateway.types import Served
from shared.telemetry import metrics, tracing

log = logging.getLogger("gateway.router")

T = TypeVar("T")


@contextmanager
def attempt_span(served: Served, attempt: int) -> Iterator[trace.Span]:
    """The span of one provider call (a stream's: until its first delta)."""
    with tracing.span(
        "provider.attempt",
        kind=trace.SpanKind.CLIENT,
        model=served.spec.id,
        deployment=served.deployment.id,
        provider=served.deployment.provider,
        attempt=attempt,
    ) as current:
        yield current


def attempted(
    served: Served, attempt: int, outcome: str, failure: Failure | None, delay: float | None
) -> None:
    """Log and count one attempt; a failed one with a delay is a retry."""
    labels = {
        "model": served.spec.id,
        "provider": served.deployment.provider,
        "outcome": outcome,
        "failure": failure.kind if failure else "",
    }
    metrics.GATEWAY_ATTEMPTS.add(1, labels)
    if outcome == "failed" and delay is not None:
        metrics.GATEWAY_RETRIES.add(1, {"model": served.spec.id, "provider": served.deployment.provider})
    log.info(
        "model attempt",
        extra={
            "attempt": {
                "model": served.spec.id,
                "deployment": served.deployment.id,
                "provider": served.deployment.provider,
                "attempt": attempt,
                "outcome": outcome,
                "failure": failure.kind if failure else None,
                "status": failure.status if failure else None,
                "retry_after": failure.retry_after if failure else None,
                "delay_s": None if delay is None else round(delay, 3),
            }
        },
    )


def answered(result: T, requested: str, waited_s: float) -> T:
    """Stamp the answer's `served` with the time spent on providers; count a fallback."""
    served = getattr(result, "served", None)
    if isinstance(served, Served):
        setattr(result, "served", replace(served, waited_s=waited_s))  # noqa: B010 (Completion | ModelStream)
        if served.spec.id != requested:
            metrics.GATEWAY_FALLBACKS.add(1, {"requested": requested, "served": served.spec.id})
    return result
