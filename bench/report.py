"""The printed table and the JSON file of a chat-overhead run."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

from bench.stats import ratio

FIRESTORE_NOTE = (
    "Firestore here is Google's emulator on the same machine (a transaction takes ~2 ms locally), so the "
    "via-API numbers include emulator round trips for the credit hold, settle and usage record; Cloud "
    "Firestore round trips from Cloud Run are usually slower. The benchmark client, the API, the fake "
    "provider, Redis and the emulator all share {cpus} CPU(s), so concurrency-50 numbers are CPU-bound."
)
MODES = {"nonstream": "non-stream latency", "stream": "stream TTFT"}


def overhead(phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Via API minus direct, per (mode, concurrency)."""
    out = []
    by_key = {(p["mode"], p["concurrency"], p["target"]): p for p in phases}
    for (mode, conc, target), api in by_key.items():
        direct = by_key.get((mode, conc, "direct"))
        if target != "api" or direct is None:
            continue
        d, a = direct["latency_ms"], api["latency_ms"]
        out.append(
            {
                "mode": mode,
                "concurrency": conc,
                "added_p50_ms": a["p50"] - d["p50"],
                "added_p99_ms": a["p99"] - d["p99"],
                "added_mean_ms": a["mean"] - d["mean"],
                "ratio_p50": ratio(a["p50"], d["p50"]),
                "ratio_p99": ratio(a["p99"], d["p99"]),
                "throughput_ratio": ratio(api["throughput_rps"], direct["throughput_rps"]),
                "api_core_pct": api["api_core_pct"],
            }
        )
    return out


def fmt(value: float | None, width: int = 9, prec: int = 2) -> str:
    if value is None or math.isnan(value):
        return f"{'-':>{width}}"
    return f"{value:>{width}.{prec}f}"


def print_table(results: dict[str, Any]) -> None:
    meta, cold = results["meta"], results["cold_start"]
    quick = " (--quick smoke run: few samples, p99 is rough)" if meta["quick"] else ""
    print(f"\n== Chat-path overhead: model fake-echo, max_tokens 16, {meta['cpu_count']} CPU(s){quick}")
    print("TTFT = time to the first non-empty content delta; host CPU = all CPUs busy during the phase")
    if meta["host_cpu_busy_before_pct"] > 15:
        print(
            f"WARNING: the host was {meta['host_cpu_busy_before_pct']:.0f}% busy before the run "
            f"(load average {meta['loadavg_before'][0]:.1f}): other work skews these numbers."
        )
    print(
        f"Cold start (from spawn): /healthz {cold['healthz_s']:.2f} s, first streamed token "
        f"{cold['first_token_s']:.2f} s (that request alone: {cold['first_request_ms']:.0f} ms)"
    )
    header = (
        f"{'metric':<19}{'conc':>5}  {'target':<8}{'n':>6}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'mean ms':>9}{'req/s':>9}{'host CPU':>9}{'CPU ms/req: API':>16}{'emulator':>9}"
    )
    print(header)
    print("-" * len(header))
    added = {(o["mode"], o["concurrency"]): o for o in results["overhead"]}
    for mode, title in MODES.items():
        for conc in sorted({p["concurrency"] for p in results["phases"] if p["mode"] == mode}):
            for p in results["phases"]:
                if p["mode"] != mode or p["concurrency"] != conc:
                    continue
                lat = p["latency_ms"]
                cpu = p["cpu_ms_per_req"]
                api_cpu = (
                    fmt(cpu.get("api"), 16) + fmt(cpu.get("firestore"), 9) if p["target"] == "api" else ""
                )
                print(
                    f"{title:<19}{conc:>5}  {p['label']:<8}{lat['n']:>6}{p['errors']:>5}"
                    f"{fmt(lat['p50'])}{fmt(lat['p99'])}{fmt(lat['mean'])}"
                    f"{fmt(p['throughput_rps'], prec=1)}{p['host_cpu_busy_pct']:>8.0f}%"
                    f"{api_cpu}"
                )
            o = added.get((mode, conc))
            if o:
                print(
                    f"{'':<19}{conc:>5}  {'added':<8}{'':>11}"
                    f"{o['added_p50_ms']:>+9.2f}{o['added_p99_ms']:>+9.2f}"
                    f"   ratio {fmt(o['ratio_p50'], 0, 1)}x p50, {fmt(o['ratio_p99'], 0, 1)}x p99;"
                    f" API process at {o['api_core_pct']:.0f}% of one core"
                )
        print()
    print(
        f"API process: RSS {results['api_memory']['rss_after_cold_start_mb']:.0f} MiB after the first "
        f"request, peak {results['api_memory']['peak_rss_mb']:.0f} MiB (VmHWM)"
    )
    print(textwrap.fill("Note: " + meta["note"], width=110))


def clean(value: Any) -> Any:
    """Rounded floats and NaN as null, so the file is strict JSON."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n!.gitignore\n")
    path.write_text(json.dumps(clean(results), indent=2) + "\n")
