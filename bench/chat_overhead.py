"""How much latency and CPU our API and LiteLLM's proxy add to a chat call, side by side, in one run.

Run it with `make bench` (or `python -m scripts.devstack bench -- --quick`), which starts the Firestore
emulator and Redis first. Steps: install LiteLLM's proxy into its own venv if needed; start the fake
provider; start our API once to register one user per worker (+1); start it again cold and time spawn ->
/healthz and spawn -> first streamed token; start the proxy (one worker, no database); then, for
non-streaming latency and streaming time to first token, at concurrency 1 and N, call the fake directly,
through our API (JWT auth, credits, rate limits and budgets on) and through the proxy; last, our fallback
from a failing model. Results: tables on stdout and bench/results/chat_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench import fallback, litellm_proxy, load, report
from bench.procs import Child, descendants, host_cpu_times, listener_pid, memory_mb, run_bench
from scripts.stack import PY, ROOT, free_port
from tests.fakes.provider import FakeProvider

RESULTS = ROOT / "bench" / "results" / "chat_overhead.json"
TIMEOUT = load.TIMEOUT


@dataclass(frozen=True)
class Config:
    quick: bool
    requests: int  # per concurrent phase
    sequential: int  # per concurrency-1 phase
    warmup: int  # concurrency-1 warm-up calls
    concurrency: int
    out: Path


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_overhead", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10x fewer requests: a smoke run")
    parser.add_argument("--requests", type=int, help="calls per concurrent phase (default 1000; quick 100)")
    parser.add_argument("--concurrency", type=int, default=50, help="workers in the concurrent phases")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    requests = args.requests or (100 if args.quick else 1000)
    if not 1 <= requests <= 100_000 or not 2 <= args.concurrency <= 500:
        parser.error("--requests must be 1..100000 and --concurrency 2..500")
    sequential = max(10, requests // 5)
    return Config(args.quick, requests, sequential, max(2, sequential // 10), args.concurrency, args.out)


# A plan with limits high enough never to refuse a benchmark call, but not 0 (= unlimited, no checks):
# the rate limiter's buckets and the budget checks run on every call as they do in production.
BENCH_PLANS = """[plans.bench]
requests_per_minute = 10_000_000
tokens_per_minute = 10_000_000_000
daily_budget = 1_000_000_000_000
monthly_budget = 1_000_000_000_000
"""


def api_env(catalog: Path, plans: Path, jwt_secret: str) -> dict[str, str]:
    return {
        **os.environ,
        "MODEL_CATALOG": str(catalog),
        "PLANS_PATH": str(plans),
        "DEFAULT_PLAN": "bench",
        "JWT_SECRET": jwt_secret,
        "WELCOME_CREDITS": "1000000000",
        "AUTH_RATE_PER_MINUTE": "100000",
        # Bench users are registered then signed in: verified at once (ENVIRONMENT is test), and the
        # sign-up limits (per address, per hour) lifted for the one address they all come from.
        "AUTH_AUTO_VERIFY_EMAIL": "true",
        "SIGNUP_PER_ADDRESS_PER_HOUR": "100000",
        "SIGNUP_GLOBAL_PER_HOUR": "100000",
        "ACCESS_TOKEN_TTL_S": "7200",  # tokens outlive a long run
        "LOG_LEVEL": "WARNING",
        # The fallback measurement fails on purpose on every call: keep its breaker closed, so each call
        # measures a real failure and not a skip of an open breaker.
        "GATEWAY_BREAKER_FAILURES": "1000000000",
    }


def start_api(name: str, port: int, env: dict[str, str], log_dir: Path) -> Child:
    cmd = [PY, "-m", "uvicorn", "run_services.api.main:app", "--host", "127.0.0.1", "--port", str(port)]
    return Child(name, [*cmd, "--no-access-log", "--log-level", "warning"], env, log_dir)


async def register_users(base: str, count: int) -> list[str]:
    """Register `count` fresh users and sign them in (4 at a time: Argon2 is slow on purpose); returns
    access tokens. Register answers 202 without tokens (issue 11, item 7)."""
    run = secrets.token_hex(4)
    gate = asyncio.Semaphore(4)

    async def one(client: httpx.AsyncClient, i: int) -> str:
        async with gate:
            body = {"email": f"bench-{run}-{i}@example.com", "password": "bench password " + run}
            response = await client.post(f"{base}/v1/auth/register", json=body)
            if response.status_code != 202:
                raise RuntimeError(f"register failed: HTTP {response.status_code} {response.text[:300]}")
            response = await client.post(f"{base}/v1/auth/login", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"login failed: HTTP {response.status_code} {response.text[:300]}")
        return str(response.json()["access_token"])

    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(count))))


async def cold_start(api: Child, base: str, target: load.Target) -> dict[str, float]:
    """From spawn: seconds to /healthz and to the first streamed content token (polling both at once)."""
    deadline = time.monotonic() + 120

    async def poll(client: httpx.AsyncClient, chat: bool) -> tuple[float, float]:
        while time.monotonic() < deadline:
            api.check_alive()
            try:
                if chat:
                    timing = await load.call(client, target, 0, stream=True)
                    return timing.first - api.started, timing.first - timing.start
                response = await client.get(f"{base}/healthz")
                if response.status_code == 200:
                    return time.perf_counter() - api.started, 0.0
            except (httpx.ConnectError, httpx.RemoteProtocolError):
                pass
            await asyncio.sleep(0.01)
        raise RuntimeError(f"the API did not answer within 120 s; see {api.log_path}")

    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client:
        (health, _), (first, request) = await asyncio.gather(poll(client, False), poll(client, True))
    return {"healthz_s": health, "first_token_s": first, "first_request_ms": request * 1000}


async def guards_on(target: load.Target) -> dict[str, str | None]:
    """One call through our API: the rate-limit headers prove the limiter ran (with the bench plan)."""
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.post(
            target.url, json=load.body(target.model, False, 16), headers=target.headers(0)
        )
    names = ("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-model", "x-provider", "x-cache")
    found = {name: response.headers.get(name) for name in names}
    limits = found["x-ratelimit-limit-requests"], found["x-ratelimit-limit-tokens"]
    state = "on" if all(limits) else "NOT seen (no X-RateLimit-* headers)"
    print(f"    our rate limits: {state}; requests/min {limits[0]}, tokens/min {limits[1]}", flush=True)
    # The requests have no temperature, so the response cache must not answer them (X-Cache: bypass/miss).
    print(f"    our response cache: X-Cache {found['x-cache']}", flush=True)
    return found


async def idle_rss(api: Child, target: load.Target, served: int, extra: int) -> dict[str, float]:
    """`extra` more streamed calls (10 at a time) to an instance that has served `served`, then 2 s idle:
    its VmRSS, against the aim of 150 MiB for an idle instance after 1,000 requests."""
    gate = asyncio.Semaphore(10)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        async with gate:
            await load.call(client, target, i, stream=True)

    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        await asyncio.gather(*(one(client, i) for i in range(extra)))
    await asyncio.sleep(2.0)
    return {"idle_rss_mb": memory_mb(api.pid, "VmRSS"), "requests_served": served + extra}


NATIVE_ONLY_TOML = """
default_model = "fake-echo"

[providers.fake]
api_base = "{base}"
api_key = "fake-key"

[[models]]
id = "fake-echo"
provider = "fake"
litellm_model = "openai/fake-echo"
input_price = 100000
output_price = 200000
context_window = 8192
max_output_tokens = 2048
"""


async def lean_instance(
    env: dict[str, str], tmp: Path, fake_port: int, ours: load.Target, children: list[Child]
) -> dict[str, float]:
    """An instance whose catalog is served on the native lane only (no translated provider, no embedding
    or speech model): nothing makes it import litellm (LITELLM_WARMUP=auto). Its cold start, then its
    idle RSS after 1,000 streamed calls: issue 15 item 3's aims, for an instance that needs no litellm."""
    catalog = tmp / "native-only.toml"
    catalog.write_text(NATIVE_ONLY_TOML.format(base=f"http://127.0.0.1:{fake_port}/v1"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"[5/6] a native-only instance on {base}: cold start, then 1000 streamed calls", flush=True)
    lean = start_api("api-native-only", port, {**env, "MODEL_CATALOG": str(catalog)}, tmp)
    children.append(lean)
    target = dataclasses.replace(ours, url=f"{base}/v1/chat/completions", server="api_native_only")
    cold = await cold_start(lean, base, target.subset(target.tokens[-1:]))
    idle = await idle_rss(lean, target, 1, 1000)
    print(
        f"    /healthz after {cold['healthz_s']:.2f} s, first token after {cold['first_token_s']:.2f} s, "
        f"VmRSS {idle['idle_rss_mb']:.0f} MiB after {idle['requests_served']} requests",
        flush=True,
    )
    lean.stop()
    children.remove(lean)
    return cold | idle


def litellm_floor(base: str, n: int) -> dict[str, float]:
    """CPU ms per call of litellm.acompletion alone (bench/litellm_floor.py, its own process), and of
    our native lane's call alone (bench/native_floor.py), as `native_<mode>_cpu_ms`."""
    found: dict[str, float] = {}
    for module, what, prefix in (
        ("bench.litellm_floor", "litellm.acompletion", ""),
        ("bench.native_floor", "the native lane", "native_"),
    ):
        print(f"    {what} alone: {n} calls one by one, non-streaming and streaming", flush=True)
        cmd = [PY, "-m", module, "--base", base, "--n", str(n)]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            print(f"    failed: {out.stderr[-500:]}", flush=True)
            continue
        found |= {prefix + k: v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}
    return found


def backing_pids() -> dict[str, int]:
    """The emulator's and Redis's pids (started by devstack), found by their ports, for CPU accounting."""
    ports = {
        "firestore": urlsplit("//" + os.environ.get("FIRESTORE_EMULATOR_HOST", "")).port,
        "redis": urlsplit(os.environ.get("REDIS_URL", "")).port,
    }
    found = {name: listener_pid(port) for name, port in ports.items() if port}
    return {name: pid for name, pid in found.items() if pid is not None}


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


async def background_load() -> float:
    """Percent of all CPUs busy over one second before we start anything: other work skews results."""
    before = host_cpu_times()
    await asyncio.sleep(1.0)
    after = host_cpu_times()
    busy = 100 * (after[0] - before[0]) / max(after[1] - before[1], 1)
    print(
        f"[0/6] host CPU busy before starting: {busy:.0f}% (load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    if busy > 15:
        print("    warning: other processes are using the CPU; the results will be noisy", flush=True)
    return busy


async def start_proxy(
    exe: Path, fake_base: str, tmp: Path, children: list[Child]
) -> tuple[Child, load.Target, float]:
    """LiteLLM's proxy on a free port; returns it, its target and seconds from spawn to /health/liveliness."""
    config, port, key = tmp / "litellm-config.yaml", free_port(), "sk-bench-" + secrets.token_hex(16)
    litellm_proxy.write_config(config, fake_base, ["fake-echo"])
    proxy = litellm_proxy.start(exe, config, port, key, tmp)
    children.append(proxy)
    ready = proxy.wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    return proxy, load.Target("LiteLLM proxy", url, (key,), "litellm"), ready


async def bench(cfg: Config, children: list[Child], tmp: Path) -> dict[str, Any]:
    started = time.perf_counter()
    exe = litellm_proxy.ensure_venv()  # before the idle check: installing takes CPU
    idle_busy, load_before = await background_load(), os.getloadavg()
    fake_port = free_port()
    print(f"[1/6] fake provider on 127.0.0.1:{fake_port}", flush=True)
    fake = Child("fake", [PY, "-m", "bench.fake_server", "--port", str(fake_port)], dict(os.environ), tmp)
    children.append(fake)
    fake.wait_http(f"http://127.0.0.1:{fake_port}/v1/models", timeout=30)
    provider = FakeProvider(base_url=f"http://127.0.0.1:{fake_port}/v1")
    catalog, plans = tmp / "catalog.toml", tmp / "plans.toml"
    has_fallback = fallback.supported()
    catalog.write_text(provider.catalog_toml(local=False) + (fallback.catalog_toml() if has_fallback else ""))
    plans.write_text(BENCH_PLANS)
    env = api_env(catalog, plans, secrets.token_urlsafe(48))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"[2/6] API instance #1 on {base}: registering {cfg.concurrency + 1} users", flush=True)
    first = start_api("api-1", port, env, tmp)
    children.append(first)
    first.wait_http(f"{base}/healthz")
    t0 = time.perf_counter()
    tokens = await register_users(base, cfg.concurrency + 1)
    print(f"    registered {len(tokens)} users in {time.perf_counter() - t0:.1f} s", flush=True)
    first.stop()
    children.remove(first)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"[3/6] cold start: API instance #2 on {base}; then LiteLLM's proxy", flush=True)
    api_url = f"{base}/v1/chat/completions"
    direct = load.Target("direct", f"http://127.0.0.1:{fake_port}/v1/chat/completions")
    ours = load.Target("ours", api_url, tuple(tokens), "api")
    second = start_api("api-2", port, env, tmp)
    children.append(second)
    cold = await cold_start(second, base, ours.subset(ours.tokens[-1:]))
    rss = {"api": memory_mb(second.pid, "VmRSS")}
    guards = await guards_on(ours.subset(ours.tokens[-1:]))
    print(
        f"    /healthz after {cold['healthz_s']:.2f} s, first token after {cold['first_token_s']:.2f} s",
        flush=True,
    )
    # The same API with every call through litellm (NATIVE_LANE=0): the native lane's gain, same run.
    lane_port = free_port()
    via_litellm = start_api("api-litellm", lane_port, {**env, "NATIVE_LANE": "0"}, tmp)
    children.append(via_litellm)
    via_litellm.wait_http(f"http://127.0.0.1:{lane_port}/healthz")
    rss["api_litellm"] = memory_mb(via_litellm.pid, "VmRSS")
    ours_litellm = load.Target(
        "ours, litellm", f"http://127.0.0.1:{lane_port}/v1/chat/completions", tuple(tokens), "api_litellm"
    )
    # The same API with credit leases off (CREDIT_LEASE_CREDITS=0): a Firestore hold, settle and usage
    # record per call, as before leases; #2 runs with the production default (leases on), same run.
    holds_port = free_port()
    per_call = start_api("api-holds", holds_port, {**env, "CREDIT_LEASE_CREDITS": "0"}, tmp)
    children.append(per_call)
    per_call.wait_http(f"http://127.0.0.1:{holds_port}/healthz")
    rss["api_holds"] = memory_mb(per_call.pid, "VmRSS")
    ours_holds = load.Target(
        "ours, holds", f"http://127.0.0.1:{holds_port}/v1/chat/completions", tuple(tokens), "api_holds"
    )
    proxy, theirs, proxy_ready = await start_proxy(exe, f"http://127.0.0.1:{fake_port}/v1", tmp, children)
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        await load.call(client, theirs, 0, stream=True)
    rss["litellm"] = memory_mb(proxy.pid, "VmRSS")
    print(f"    LiteLLM proxy /health/liveliness after {proxy_ready:.2f} s", flush=True)

    print(
        f"[4/6] phases: {cfg.sequential} calls at concurrency 1, {cfg.requests} at {cfg.concurrency}",
        flush=True,
    )
    pids = {
        "api": second.pid,
        "api_litellm": via_litellm.pid,
        "api_holds": per_call.pid,
        "litellm": proxy.pid,
        "fake": fake.pid,
        **backing_pids(),
    }
    print(f"    measuring CPU of: {', '.join(pids)}", flush=True)
    phases = await load.run_phases(
        direct,
        [ours, ours_litellm, ours_holds, theirs],
        pids,
        cfg.sequential,
        cfg.requests,
        cfg.concurrency,
        cfg.warmup,
    )
    print(
        f"[5/6] fallback: {'measuring' if has_fallback else 'not available'}; the litellm floor", flush=True
    )
    fb = await fallback.measure(ours, cfg.sequential, cfg.warmup, pids)
    floor = litellm_floor(f"http://127.0.0.1:{fake_port}/v1", cfg.sequential)
    served = sum(p["latency_ms"]["n"] + p["errors"] for p in phases if p["target"] == "api")
    print(f"[5/6] idle RSS of ours: 1000 more streamed calls after the {served} measured, then 2 s idle")
    idle = await idle_rss(second, ours, served, 1000)
    print(f"    VmRSS {idle['idle_rss_mb']:.0f} MiB after {idle['requests_served']} requests", flush=True)
    native_only = await lean_instance(env, tmp, fake_port, ours, children)
    servers = (
        ("api", second.pid),
        ("api_litellm", via_litellm.pid),
        ("api_holds", per_call.pid),
        ("litellm", proxy.pid),
    )
    memory = {
        name: {"rss_after_start_mb": rss[name], "peak_rss_mb": memory_mb(pid, "VmHWM")}
        for name, pid in servers
    }
    memory["api"].update(idle)
    # CPU is read for the server's own pid: say so if any runs work in child processes.
    spawned = {name: descendants(pid) for name, pid in servers}
    cpus = os.cpu_count() or 1
    results: dict[str, Any] = {
        "meta": {
            "benchmark": "chat_overhead",
            "quick": cfg.quick,
            "requests_concurrent": cfg.requests,
            "requests_sequential": cfg.sequential,
            "concurrency": cfg.concurrency,
            "model": "fake-echo",
            "max_tokens": 16,
            "cpu_count": cpus,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "git_commit": git_commit(),
            "litellm_proxy": litellm_proxy.PIN,
            "firestore": "emulator " + os.environ.get("FIRESTORE_EMULATOR_HOST", ""),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "duration_s": time.perf_counter() - started,
            "host_cpu_busy_before_pct": idle_busy,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "server_child_pids": spawned,
            "note": report.FIRESTORE_NOTE.format(cpus=cpus, conc=cfg.concurrency),
        },
        "cold_start": cold,
        "cold_start_native_only": native_only,
        "ours_headers": guards,
        "startup_s": {"api": cold["healthz_s"], "litellm": proxy_ready},
        "memory": memory,
        "phases": phases,
        "overhead": report.overhead(phases),
        "fallback": fb,
        "litellm_floor": floor,
    }
    results["comparison"] = report.compare(results)
    return results


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    missing = [k for k in ("FIRESTORE_EMULATOR_HOST", "REDIS_URL") if not os.environ.get(k)]
    if missing:
        print(f"{', '.join(missing)} not set: run this with `make bench` (scripts/devstack.py).", flush=True)
        return 2

    t0 = time.perf_counter()
    ran = run_bench("bench-chat-", lambda children, tmp: bench(cfg, children, tmp))
    if isinstance(ran, int):
        return ran
    results = ran
    print("[6/6] results", flush=True)
    report.print_all(results)
    report.write_json(results, cfg.out)
    errors = sum(p["errors"] for p in results["phases"])
    print(f"\nWrote {cfg.out.relative_to(ROOT) if cfg.out.is_relative_to(ROOT) else cfg.out}", end="")
    print(f"; run time {time.perf_counter() - t0:.1f} s; {errors} failed calls", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
