"""Metrics of model calls, read off their usage records (an observer of shared/usage/recorder.py).

Every door writes one usage record per call with the same fields (shared/chat/records.py), so one reader
turns them into: calls by feature, door, model and outcome; tokens by direction; time to first token;
output tokens per second of provider time; gateway overhead (our time before the first byte less the
time spent waiting on providers, `provider_ms`); guardrail findings. No user, workspace or content.
"""

from __future__ import annotations

from typing import Any

from shared.telemetry import metrics


def observe(record_id: str, fields: dict[str, Any], traced: dict[str, Any] | None = None) -> None:
    del record_id, traced
    model = str(fields.get("model") or "")
    provider = str(fields.get("provider") or "")
    metrics.LLM_CALLS.add(
        1,
        {
            "feature": str(fields.get("feature") or ""),
            "api": str(fields.get("api") or ""),
            "model": model,
            "outcome": str(fields.get("outcome") or ""),
        },
    )
    for direction in ("input", "output"):
        count = fields.get(f"{direction}_tokens")
        if isinstance(count, int) and count > 0:
            metrics.LLM_TOKENS.add(count, {"model": model, "direction": direction})
    for hit in fields.get("guardrails") or []:
        metrics.GUARDRAIL_FINDINGS.add(
            int(hit.get("count", 1)), {"check": str(hit.get("check")), "action": str(hit.get("action"))}
        )
    _timings(fields, model, provider)


def _timings(fields: dict[str, Any], model: str, provider: str) -> None:
    ttft, latency, waited = fields.get("ttft_ms"), fields.get("latency_ms"), fields.get("provider_ms")
    if not isinstance(ttft, int | float) or fields.get("outcome") == "cache_hit":
        return
    labels = {"model": model, "provider": provider}
    metrics.LLM_TTFT.record(ttft / 1000, labels)
    if not isinstance(waited, int | float) or not isinstance(latency, int | float):
        return
    overhead_ms = max(0.0, ttft - waited)
    metrics.GATEWAY_OVERHEAD.record(overhead_ms / 1000, {"api": str(fields.get("api") or "")})
    provider_s = (latency - overhead_ms) / 1000
    output = fields.get("output_tokens")
    if isinstance(output, int) and output > 0 and provider_s > 0:
        metrics.LLM_TOKENS_PER_S.record(output / provider_s, labels)
