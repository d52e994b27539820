"""Slow readers (issue 15, item 4): N clients read a long streamed answer at about one byte a second, while
another client measures the time to the first token of ordinary streamed calls.

Run it with `make bench-slow-readers` (or `python -m scripts.devstack exec -- python -m bench.slow_readers
--quick`), which starts the Firestore emulator and Redis first. One API instance (one uvicorn worker) and
the fake provider (bench/fake_server.py). Steps: register the users; TTFT of `fake-echo` streams alone
(baseline); open the slow readers (`fake-long`, a long answer that the provider sends as fast as it is
read); once they are idle, the API's RSS and open files, its CPU while idle, and TTFT again with them
open; close them; TTFT once more (baseline after). Aims: memory bounded (reported as MiB per idle stream),
TTFT with the readers at most 1.10x the baseline. Results: a table on stdout and
bench/results/slow_readers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import load
from bench.chat_overhead import BENCH_PLANS, api_env, git_commit, register_users
from bench.procs import Child, cpu_seconds, memory_mb, run_bench
from bench.stats import Summary, ratio
from scripts.stack import PY, ROOT, free_port
from tests.fakes.provider import FakeProvider

RESULTS = ROOT / "bench" / "results" / "slow_readers.json"
LONG_TOKENS = 50_000  # each slow reader's answer: ~9 MB of events, far more than the buffers on the way
READERS_PER_USER = 100  # users (wallets) the readers spread over, so their holds do not all contend
OPEN_AT_ONCE = 50
WARM_UP = 20  # the first calls of an instance are slower (imports, connections, caches)
TTFT_AIM = 1.10
PHASES = ("alone", "with_readers", "after")
SNDBUF = 65536  # per connection, both servers (bench/sized_server.py); the kernel doubles it


@dataclass(frozen=True)
class Config:
    quick: bool
    readers: int
    probes: int  # TTFT calls per measurement
    fill_timeout_s: float  # how long the streams may take to fill the buffers and idle
    out: Path


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.slow_readers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 readers and 50 probes: a smoke run")
    parser.add_argument("--readers", type=int, help="slow readers (default 1000; quick 200)")
    parser.add_argument("--probes", type=int, help="TTFT calls per measurement (default 200; quick 50)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    readers = args.readers or (200 if args.quick else 1000)
    probes = args.probes or (50 if args.quick else 200)
    if not 1 <= readers <= 5000 or not 5 <= probes <= 10_000:
        parser.error("--readers must be 1..5000 and --probes 5..10000")
    return Config(args.quick, readers, probes, 120.0 if args.quick else 600.0, args.out)


def raise_fd_limit(needed: int) -> dict[str, int]:
    """Raise this process's open-file limit to the hard limit (children inherit it): each reader is a socket
    here, two in the API (client, provider) and one in the fake."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    print(f"    open files: soft limit {soft} -> {now} (hard {hard}); about {needed} needed", flush=True)
    if now < needed:
        raise RuntimeError(
            f"the open-file limit ({now}) is below the {needed} sockets needed: lower --readers"
        )
    return {"soft_before": soft, "soft": now, "hard": hard}


class SlowReader:
    """A raw socket that sends one streamed request, checks the status line, then takes a byte a second."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.sock: socket.socket | None = None
        self.read = 0
        self.status = b""
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client holds little
        sock.setblocking(False)
        self.sock = sock
        await loop.sock_connect(sock, (self.host, self.port))
        body = json.dumps(load.body("fake-long", True, LONG_TOKENS)).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        await loop.sock_sendall(sock, head.encode() + body)
        while len(self.status) < 12:  # "HTTP/1.1 200": the stream is open (or refused)
            part = await loop.sock_recv(sock, 12 - len(self.status))
            if not part:
                break
            self.status += part
        if not self.status.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"a slow reader was answered {self.status!r}")
        self.task = asyncio.create_task(self._trickle())

    async def _trickle(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.sock is not None
        while True:
            await asyncio.sleep(1.0)
            if not await loop.sock_recv(self.sock, 1):
                return  # the server closed the stream
            self.read += 1

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.sock is not None:
            self.sock.close()


async def ttft(target: load.Target, n: int) -> dict[str, Any]:
    """`n` streamed `fake-echo` calls one after another (after WARM_UP unmeasured): their TTFT."""
    firsts: list[float] = []
    errors = 0
    async with httpx.AsyncClient(timeout=load.TIMEOUT) as client:
        for i in range(n + WARM_UP):
            try:
                timing = await load.call(client, target, 0, stream=True)
            except (load.CallFailed, httpx.HTTPError):
                errors += 1
                continue
            if i >= WARM_UP:
                firsts.append(timing.first - timing.start)
    return {**Summary.of(firsts).as_dict(), "errors": errors}


async def quiet(pid: int, within_s: float) -> float:
    """Seconds until `pid` used under 5 % of a CPU over one second (its streams all wait on readers)."""
    start = time.perf_counter()
    while time.perf_counter() - start < within_s:
        cpu0 = cpu_seconds(pid)
        await asyncio.sleep(1.0)
        if cpu_seconds(pid) - cpu0 < 0.05:
            return time.perf_counter() - start
    raise RuntimeError(f"the API was still busy {within_s:.0f} s after the readers opened")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def open_readers(base: str, tokens: list[str], n: int) -> tuple[list[SlowReader], int]:
    """Open `n` readers, OPEN_AT_ONCE at a time, each on a user's token in turn; returns them and failures."""
    readers: list[SlowReader] = []
    failed = 0
    port = int(base.rsplit(":", 1)[1])
    for start in range(0, n, OPEN_AT_ONCE):
        batch = [
            SlowReader("127.0.0.1", port, tokens[(start + i) % len(tokens)])
            for i in range(min(OPEN_AT_ONCE, n - start))
        ]
        results = await asyncio.gather(*(r.open() for r in batch), return_exceptions=True)
        for reader, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                reader.close()
                if failed == 1:
                    print(f"    first failure: {type(result).__name__}: {result}", flush=True)
            else:
                readers.append(reader)
    return readers, failed


async def bench(cfg: Config, children: list[Child], tmp: Path) -> dict[str, Any]:
    started = time.perf_counter()
    limits = raise_fd_limit(4 * cfg.readers + 500)
    fake_port = free_port()
    print(f"[1/5] fake provider on 127.0.0.1:{fake_port}; our API", flush=True)
    cmd = [PY, "-m", "bench.fake_server", "--port", str(fake_port), "--sndbuf", str(SNDBUF)]
    fake = Child("fake", cmd, dict(os.environ), tmp)
    children.append(fake)
    fake.wait_http(f"http://127.0.0.1:{fake_port}/v1/models", timeout=30)
    provider = FakeProvider(base_url=f"http://127.0.0.1:{fake_port}/v1")
    catalog, plans = tmp / "catalog.toml", tmp / "plans.toml"
    catalog.write_text(provider.catalog_toml(local=False))
    plans.write_text(BENCH_PLANS)
    env = {
        **api_env(catalog, plans, secrets.token_urlsafe(48)),
        "MAX_OPEN_STREAMS": str(cfg.readers + 100),  # the readers share a few users
        # fake-long's deployment holds one provider connection per reader; fake-echo has its own pool.
        "NATIVE_LANE_MAX_CONNECTIONS": str(cfg.readers + 100),
        # The readers must stay open through the measurements: the stall limit would cut them at 30 s.
        "STREAM_STALL_S": "3600",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [PY, "-m", "bench.sized_server", "--port", str(port), "--sndbuf", str(SNDBUF)]
    api = Child("api", [*cmd, "run_services.api.main:app"], env, tmp)
    children.append(api)
    api.wait_http(f"{base}/healthz")
    users = max(1, -(-cfg.readers // READERS_PER_USER))
    tokens = await register_users(base, users + 1)
    target = load.Target("ours", f"{base}/v1/chat/completions", (tokens[-1],), "api")

    print(f"[2/5] TTFT alone: {cfg.probes} streamed calls one by one", flush=True)
    alone = await ttft(target, cfg.probes)
    rss_before, fds_before = memory_mb(api.pid, "VmRSS"), open_files(api.pid)
    print(f"    p50 {alone['p50']:.1f} ms; API RSS {rss_before:.1f} MiB, {fds_before} open files", flush=True)

    print(f"[3/5] opening {cfg.readers} slow readers over {users} users", flush=True)
    t0 = time.perf_counter()
    readers, failed = await open_readers(base, tokens[:-1], cfg.readers)
    print(f"    {len(readers)} open in {time.perf_counter() - t0:.1f} s, {failed} failed", flush=True)
    fill_s = await quiet(
        api.pid, cfg.fill_timeout_s
    )  # the streams fill the buffers, then wait on the readers
    cpu0, wall0 = cpu_seconds(api.pid), time.perf_counter()
    await asyncio.sleep(5.0)
    idle_cpu_pct = 100 * (cpu_seconds(api.pid) - cpu0) / (time.perf_counter() - wall0)
    rss_with, fds_with = memory_mb(api.pid, "VmRSS"), open_files(api.pid)
    fake_rss = memory_mb(fake.pid, "VmRSS")
    per_stream = (rss_with - rss_before) / max(1, len(readers))
    print(f"    API RSS {rss_with:.1f} MiB ({per_stream * 1024:.1f} KiB per idle stream)", flush=True)
    print(f"    {fds_with} open files; {idle_cpu_pct:.1f} % of a CPU while the readers idle", flush=True)

    print(f"[4/5] TTFT with the slow readers open: {cfg.probes} calls", flush=True)
    beside = await ttft(target, cfg.probes)
    read = sum(r.read for r in readers)
    still = sum(1 for r in readers if r.task is not None and not r.task.done())
    print(f"    p50 {beside['p50']:.1f} ms; readers took {read} bytes, {still} still open", flush=True)
    for reader in readers:
        reader.close()
    await asyncio.sleep(5.0)  # the streams are cancelled and settled
    print(f"[5/5] TTFT after closing them: {cfg.probes} calls", flush=True)
    after = await ttft(target, cfg.probes)
    rss_after, peak = memory_mb(api.pid, "VmRSS"), memory_mb(api.pid, "VmHWM")
    baseline_p50 = (alone["p50"] + after["p50"]) / 2
    return {
        "meta": {
            "benchmark": "slow_readers",
            "quick": cfg.quick,
            "readers": cfg.readers,
            "probes": cfg.probes,
            "long_tokens": LONG_TOKENS,
            "sndbuf": SNDBUF,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "git_commit": git_commit(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "duration_s": time.perf_counter() - started,
            "loadavg_after": os.getloadavg(),
            "fd_limit": limits,
        },
        "readers": {"open": len(readers), "failed": failed, "still_open_at_end": still, "bytes_read": read},
        "memory": {
            "api_rss_before_mb": rss_before,
            "api_rss_with_readers_mb": rss_with,
            "api_rss_after_close_mb": rss_after,
            "api_peak_rss_mb": peak,
            "mib_per_idle_stream": per_stream,
            "fake_rss_with_readers_mb": fake_rss,
            "api_open_files_before": fds_before,
            "api_open_files_with_readers": fds_with,
        },
        "fill_s": fill_s,
        "api_cpu_pct_while_idle": idle_cpu_pct,
        "ttft_ms": {"alone": alone, "with_readers": beside, "after": after},
        "ttft_ratio_p50": ratio(beside["p50"], baseline_p50),
        "ttft_ratio_p99": ratio(beside["p99"], (alone["p99"] + after["p99"]) / 2),
    }


def print_report(r: dict[str, Any]) -> None:
    m, t = r["memory"], r["ttft_ms"]
    p50 = r["ttft_ratio_p50"]
    verdict = "met" if p50 <= TTFT_AIM else "NOT met"

    def three(a: float, b: float, c: float) -> str:
        return f"{a:.1f} / {b:.1f} / {c:.1f}"

    files = m["api_open_files_with_readers"]
    rss = three(m["api_rss_before_mb"], m["api_rss_with_readers_mb"], m["api_rss_after_close_mb"])
    rows = [
        ("slow readers open (failed)", f"{r['readers']['open']} ({r['readers']['failed']})"),
        ("API RSS before / with readers / after closing (MiB)", rss),
        ("MiB per idle stream (RSS growth / readers)", f"{m['mib_per_idle_stream']:.3f}"),
        ("API open files before / with readers", f"{m['api_open_files_before']} / {files}"),
        ("seconds until the streams idled (API CPU under 5 %)", f"{r['fill_s']:.1f}"),
        ("API CPU while the readers idle (% of one CPU)", f"{r['api_cpu_pct_while_idle']:.1f}"),
        ("TTFT p50 alone / with readers / after (ms)", three(*(t[k]["p50"] for k in PHASES))),
        ("TTFT p99 alone / with readers / after (ms)", three(*(t[k]["p99"] for k in PHASES))),
        (
            f"TTFT p50 ratio, with / mean of alone and after (aim <= {TTFT_AIM})",
            f"{r['ttft_ratio_p50']:.3f} {verdict}",
        ),
        ("TTFT p99 ratio, same", f"{r['ttft_ratio_p99']:.3f}"),
    ]
    print("\n| metric | value |\n| --- | ---: |")
    for name, value in rows:
        print(f"| {name} | {value} |")


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    missing = [k for k in ("FIRESTORE_EMULATOR_HOST", "REDIS_URL") if not os.environ.get(k)]
    if missing:
        print(f"{', '.join(missing)} not set: run this with `make bench-slow-readers`.", flush=True)
        return 2

    ran = run_bench("bench-slow-", lambda children, tmp: bench(cfg, children, tmp))
    if isinstance(ran, int):
        return ran
    results = ran
    print_report(results)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(results, indent=2) + "\n")
    errors = sum(t["errors"] for t in results["ttft_ms"].values()) + results["readers"]["failed"]
    print(f"\nWrote {cfg.out}; {errors} failed calls or readers", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
