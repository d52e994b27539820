"""The tables and the JSON file of a chat-overhead run: every phase, then ours beside LiteLLM's proxy."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

from bench.stats import ratio

FIRESTORE_NOTE = (
    "Firestore here is Google's emulator on the same machine (a transaction takes ~2 ms locally), so our "
    "API's numbers include emulator round trips for the credit hold, settle and usage record, and the "
    "emulator's CPU competes with everything else; Cloud Firestore round trips from Cloud Run are usually "
    "slower but cost no local CPU. LiteLLM's proxy runs without a database (no spend tracking or key "
    "checks against Postgres), which flatters it. The client, both servers, the fake provider, Redis and "
    "the emulator all share {cpus} CPU(s), so concurrency-{conc} numbers are CPU-bound."
)
MODES = {"nonstream": "non-stream latency", "stream": "stream TTFT"}
SERVERS = {
    "api": "ours",
    "api_litellm": "ours, litellm",
    "api_holds": "ours, holds",
    "litellm": "LiteLLM proxy",
}
LATENCY_AIM = 1 / 3  # ours/theirs added latency at most this
THROUGHPUT_AIM = 3.0  # ours/theirs requests per second at least this
COLD_START_AIM_S = 1.5  # spawn -> /healthz and spawn -> first streamed token (native lane), at most
IDLE_RSS_AIM_MB = 150.0  # VmRSS of an idle instance after 1,000 requests, at most


def overhead(phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each server minus the direct baseline, per (mode, concurrency)."""
    out = []
    by_key = {(p["mode"], p["concurrency"], p["target"]): p for p in phases}
    for (mode, conc, target), srv in by_key.items():
        direct = by_key.get((mode, conc, "direct"))
        if target == "direct" or direct is None:
            continue
        d, a = direct["latency_ms"], srv["latency_ms"]
        out.append(
            {
                "server": target,
                "mode": mode,
                "concurrency": conc,
                "added_p50_ms": a["p50"] - d["p50"],
                "added_p99_ms": a["p99"] - d["p99"],
                "added_mean_ms": a["mean"] - d["mean"],
                "ratio_p50": ratio(a["p50"], d["p50"]),
                "ratio_p99": ratio(a["p99"], d["p99"]),
                "throughput_rps": srv["throughput_rps"],
                "cpu_ms_per_req": srv["cpu_ms_per_req"].get(target, math.nan),
                "server_core_pct": srv["server_core_pct"],
            }
        )
    return out


def _row(metric: str, ours: float, theirs: float, aim: str = "", met: bool | None = None) -> dict[str, Any]:
    return {
        "metric": metric,
        "ours": ours,
        "theirs": theirs,
        "ratio": ratio(ours, theirs),
        "aim": aim,
        "met": met,
    }


def compare(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Ours beside the proxy: added latency, saturation throughput, CPU, memory; ratios are ours/theirs."""
    added = {(o["server"], o["mode"], o["concurrency"]): o for o in results["overhead"]}
    conc = results["meta"]["concurrency"]
    rows = []
    for mode, title in MODES.items():
        for c in (1, conc):
            ours, theirs = added.get(("api", mode, c)), added.get(("litellm", mode, c))
            if not ours or not theirs:
                continue
            for stat in ("p50", "p99"):
                a, b = ours[f"added_{stat}_ms"], theirs[f"added_{stat}_ms"]
                met = None if b <= 0 else a <= b * LATENCY_AIM
                rows.append(_row(f"added {title} c={c} {stat} (ms)", a, b, "<= 0.33", met))
    for mode in MODES:
        ours, theirs = added.get(("api", mode, conc)), added.get(("litellm", mode, conc))
        if ours and theirs:
            a, b = ours["throughput_rps"], theirs["throughput_rps"]
            met = None if b <= 0 else a >= b * THROUGHPUT_AIM
            rows.append(_row(f"req/s at saturation, 1 worker, {mode} c={conc}", a, b, ">= 3", met))
    for mode in MODES:
        ours, theirs = added.get(("api", mode, conc)), added.get(("litellm", mode, conc))
        if ours and theirs:
            a, b = ours["cpu_ms_per_req"], theirs["cpu_ms_per_req"]
            rows.append(_row(f"server CPU ms per request, {mode} c={conc}", a, b))
            x, y = ratio(1000, a), ratio(1000, b)
            met = None if math.isnan(x) or math.isnan(y) else x >= y * THROUGHPUT_AIM
            rows.append(_row(f"req/s one core can serve (1000 / CPU ms), {mode}", x, y, ">= 3", met))
            emulator = ours_phase(results, mode, conc)["cpu_ms_per_req"].get("firestore", math.nan)
            rows.append(_row(f"Firestore emulator CPU ms per request (ours), {mode}", emulator, math.nan))
    rows += lanes(added, conc)
    rows += leases(added, conc)
    mem = results["memory"]
    if "api" in mem and "litellm" in mem:
        rows.append(_row("peak RSS (MiB, VmHWM)", mem["api"]["peak_rss_mb"], mem["litellm"]["peak_rss_mb"]))
        start = results["startup_s"]
        rows.append(_row("spawn -> ready (s)", start["api"], start["litellm"]))
    rows += absolute_aims(results)
    return rows


def absolute_aims(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 15 item 3's aims, absolute (not against the proxy): cold start and idle memory."""
    cold, api = results["cold_start"], results["memory"].get("api", {})
    aim = f"<= {COLD_START_AIM_S}"
    rows = [
        _row(f"ours: spawn -> {what} (s)", cold[key], math.nan, aim, cold[key] <= COLD_START_AIM_S)
        for what, key in (("/healthz", "healthz_s"), ("first streamed token", "first_token_s"))
    ]
    idle = api.get("idle_rss_mb")
    if idle is not None:
        what = f"ours: idle RSS after {api['requests_served']} requests (MiB)"
        rows.append(_row(what, idle, math.nan, f"<= {IDLE_RSS_AIM_MB:.0f}", idle <= IDLE_RSS_AIM_MB))
    # The same aims for an instance whose catalog needs no litellm (bench/chat_overhead.py, lean_instance).
    lean = results.get("cold_start_native_only")
    if lean:
        for what, key in (("/healthz", "healthz_s"), ("first streamed token", "first_token_s")):
            name = f"ours, native-only catalog: spawn -> {what} (s)"
            rows.append(_row(name, lean[key], math.nan, aim, lean[key] <= COLD_START_AIM_S))
        what = f"ours, native-only catalog: idle RSS after {lean['requests_served']} requests (MiB)"
        rss = lean["idle_rss_mb"]
        rows.append(_row(what, rss, math.nan, f"<= {IDLE_RSS_AIM_MB:.0f}", rss <= IDLE_RSS_AIM_MB))
    return rows


def lanes(added: dict[Any, dict[str, Any]], conc: int) -> list[dict[str, Any]]:
    """Our native lane beside our litellm lane (NATIVE_LANE=0), same API otherwise: "ours" is the native
    lane, "theirs" the litellm lane."""
    rows = []
    for mode, title in MODES.items():
        for c in (1, conc):
            native, via = added.get(("api", mode, c)), added.get(("api_litellm", mode, c))
            if native and via:
                a, b = native["added_p50_ms"], via["added_p50_ms"]
                rows.append(_row(f"lanes: added {title} c={c} p50 (ms), native/litellm", a, b))
        native, via = added.get(("api", mode, conc)), added.get(("api_litellm", mode, conc))
        if native and via:
            rows.append(
                _row(
                    f"lanes: req/s at saturation, {mode} c={conc}, native/litellm",
                    native["throughput_rps"],
                    via["throughput_rps"],
                )
            )
            rows.append(
                _row(
                    f"lanes: server CPU ms per request, {mode} c={conc}, native/litellm",
                    native["cpu_ms_per_req"],
                    via["cpu_ms_per_req"],
                )
            )
    return rows


def leases(added: dict[Any, dict[str, Any]], conc: int) -> list[dict[str, Any]]:
    """Credit leases on (our default) beside per-call holds (CREDIT_LEASE_CREDITS=0), same API otherwise:
    "ours" is the lease path, "theirs" the per-call-hold path."""
    rows = []
    for mode, title in MODES.items():
        for c in (1, conc):
            leased, held = added.get(("api", mode, c)), added.get(("api_holds", mode, c))
            if leased and held:
                a, b = leased["added_p50_ms"], held["added_p50_ms"]
                rows.append(_row(f"leases: added {title} c={c} p50 (ms), lease/per-call", a, b))
        leased, held = added.get(("api", mode, conc)), added.get(("api_holds", mode, conc))
        if leased and held:
            rows.append(
                _row(
                    f"leases: req/s at saturation, {mode} c={conc}, lease/per-call",
                    leased["throughput_rps"],
                    held["throughput_rps"],
                )
            )
            rows.append(
                _row(
                    f"leases: server CPU ms per request, {mode} c={conc}, lease/per-call",
                    leased["cpu_ms_per_req"],
                    held["cpu_ms_per_req"],
                )
            )
    return rows


def ours_phase(results: dict[str, Any], mode: str, conc: int) -> dict[str, Any]:
    return next(
        p for p in results["phases"] if (p["target"], p["mode"], p["concurrency"]) == ("api", mode, conc)
    )


def fmt(value: float | None, width: int = 9, prec: int = 2) -> str:
    if value is None or math.isnan(value):
        return f"{'-':>{width}}"
    return f"{value:>{width}.{prec}f}"


def _verdict(row: dict[str, Any]) -> str:
    if not row["aim"]:
        return ""
    return {True: "met", False: "NOT met", None: "n/a"}[row["met"]]


def _fallback_line(fb: dict[str, Any]) -> str:
    if not fb.get("available"):
        return f"fallback: not available ({fb.get('reason', 'no fallback support in the catalog')})"
    return (
        f"fallback (ours; {fb['chain']}): failure -> first token from the fallback adds "
        f"{fb['added_p50_ms']:.2f} ms p50, {fb['added_p99_ms']:.2f} ms p99 to stream TTFT "
        f"and {fb.get('added_cpu_ms', math.nan):.1f} ms of server CPU per request "
        f"(c=1, n={fb['n']}, {fb['errors']} errors; working model alone p50 {fb['alone_p50_ms']:.2f} ms)"
    )


def _floor_line(results: dict[str, Any]) -> str:
    floor = results.get("litellm_floor") or {}
    added = {(o["server"], o["mode"]): o for o in results["overhead"] if o["concurrency"] > 1}
    parts = []
    for mode in MODES:
        theirs = added.get(("litellm", mode))
        if f"{mode}_cpu_ms" in floor and theirs:
            parts.append(
                f"{mode} {floor[f'{mode}_cpu_ms']:.1f} ms (3x the proxy's req/s per core needs <= "
                f"{theirs['cpu_ms_per_req'] / THROUGHPUT_AIM:.1f} ms per request)"
            )
    if not parts:
        return "litellm.acompletion alone: not measured"
    native = [
        f"{mode} {floor[f'native_{mode}_cpu_ms']:.1f} ms"
        for mode in MODES
        if f"native_{mode}_cpu_ms" in floor
    ]
    line = "litellm.acompletion alone, CPU per call (the floor under both servers): " + "; ".join(parts)
    return line + ("; our native lane's call alone: " + ", ".join(native) if native else "")


def _guards_line(results: dict[str, Any]) -> str:
    h = results.get("ours_headers", {})
    rpm, tpm = h.get("x-ratelimit-limit-requests"), h.get("x-ratelimit-limit-tokens")
    limits = f"on ({rpm} requests/min, {tpm} tokens/min per user)" if rpm and tpm else "NOT seen"
    cache = h.get("x-cache")
    return (
        f"ours: JWT auth, credit hold and settle in the Firestore emulator, rate limits {limits}, "
        f"response cache not used (X-Cache: {cache})"
        if cache != "hit"
        else "ours: WARNING, answered from the response cache (X-Cache: hit): the numbers flatter us"
    )


def print_phases(results: dict[str, Any]) -> None:
    meta, cold = results["meta"], results["cold_start"]
    quick = " (--quick smoke run: few samples, p99 is rough)" if meta["quick"] else ""
    print(f"\n== Chat path: model fake-echo, max_tokens 16, {meta['cpu_count']} CPU(s){quick}")
    print("TTFT = time to the first non-empty content delta; host CPU = all CPUs busy during the phase")
    if meta["host_cpu_busy_before_pct"] > 15:
        print(
            f"WARNING: the host was {meta['host_cpu_busy_before_pct']:.0f}% busy before the run "
            f"(load average {meta['loadavg_before'][0]:.1f}): other work skews these numbers."
        )
    print(
        f"Our API cold start (from spawn): /healthz {cold['healthz_s']:.2f} s, first streamed token "
        f"{cold['first_token_s']:.2f} s (that request alone: {cold['first_request_ms']:.0f} ms)"
    )
    header = (
        f"{'metric':<19}{'conc':>5}  {'target':<14}{'n':>6}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'mean ms':>9}{'req/s':>9}{'host CPU':>9}{'CPU ms/req: server':>19}{'emulator':>9}"
    )
    print(header)
    print("-" * len(header))
    added = {(o["server"], o["mode"], o["concurrency"]): o for o in results["overhead"]}
    for mode, title in MODES.items():
        for conc in sorted({p["concurrency"] for p in results["phases"] if p["mode"] == mode}):
            for p in results["phases"]:
                if p["mode"] != mode or p["concurrency"] != conc:
                    continue
                lat, cpu, srv = p["latency_ms"], p["cpu_ms_per_req"], p["target"]
                srv_cpu = "" if srv == "direct" else fmt(cpu.get(srv), 19)
                if srv == "api":
                    srv_cpu += fmt(cpu.get("firestore"), 9)
                print(
                    f"{title:<19}{conc:>5}  {p['label']:<14}{lat['n']:>6}{p['errors']:>5}"
                    f"{fmt(lat['p50'])}{fmt(lat['p99'])}{fmt(lat['mean'])}"
                    f"{fmt(p['throughput_rps'], prec=1)}{p['host_cpu_busy_pct']:>8.0f}%{srv_cpu}"
                )
            for server, name in SERVERS.items():
                o = added.get((server, mode, conc))
                if o:
                    print(
                        f"{'':<19}{conc:>5}  {'added ' + name:<14}{'':>11}"
                        f"{o['added_p50_ms']:>+9.2f}{o['added_p99_ms']:>+9.2f}"
                        f"   {fmt(o['ratio_p50'], 0, 1)}x direct p50;"
                        f" server at {o['server_core_pct']:.0f}% of one core"
                    )
        print()


def print_comparison(results: dict[str, Any]) -> None:
    rows = results["comparison"]
    print("== Ours (auth, credits, rate limits on) beside LiteLLM's proxy, same fake provider, same run")
    header = f"{'metric':<56}{'ours':>10}{'LiteLLM':>10}{'ours/theirs':>13}{'aim':>9}  verdict"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['metric']:<56}{fmt(r['ours'], 10)}{fmt(r['theirs'], 10)}{fmt(r['ratio'], 13, 3)}"
            f"{r['aim']:>9}  {_verdict(r)}"
        )
    print(_fallback_line(results["fallback"]))
    print(_guards_line(results))
    print(_floor_line(results))
    mem = results["memory"]
    print(
        "RSS after start: "
        + ", ".join(f"{SERVERS[k]} {v['rss_after_start_mb']:.0f} MiB" for k, v in mem.items())
    )
    meta = results["meta"]
    print(textwrap.fill("Note: " + meta["note"], width=110))


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"Ours vs LiteLLM proxy {meta['litellm_proxy']} (1 worker each), {meta['cpu_count']} CPUs, "
        f"{meta['started_at'][:10]}, {meta['requests_sequential']} calls at c=1 and "
        f"{meta['requests_concurrent']} at c={meta['concurrency']} per phase:",
        "",
        "| metric | ours | LiteLLM proxy | ours/theirs | aim | verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results["comparison"]:
        lines.append(
            f"| {r['metric']} | {fmt(r['ours'], 0)} | {fmt(r['theirs'], 0)} | {fmt(r['ratio'], 0, 3)} "
            f"| {r['aim']} | {_verdict(r)} |"
        )
    lines += ["", _fallback_line(results["fallback"]), "", _guards_line(results), "", _floor_line(results)]
    return "\n".join(lines)


def print_all(results: dict[str, Any]) -> None:
    print_phases(results)
    print_comparison(results)
    print("\n== Markdown (for a note)\n")
    print(markdown(results))


def clean(value: Any) -> Any:
    """Rounded floats and NaN as null, so the file is strict JSON."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
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
