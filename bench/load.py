"""Drive chat completions: one call (streaming or not), a warm-up, and a measured phase of N calls."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.procs import cpu_seconds, host_cpu_times
from bench.stats import Summary

PROMPT = [{"role": "user", "content": "Reply with a few words, please."}]
PHASE_DEADLINE_S = 300.0
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class CallFailed(Exception):
    pass


@dataclass(frozen=True)
class Target:
    """Where the calls go: the fake provider directly (no tokens) or the API (one token per worker)."""

    name: str
    url: str
    tokens: tuple[str, ...] = ()

    def headers(self, worker: int) -> dict[str, str]:
        if not self.tokens:
            return {}
        return {"Authorization": f"Bearer {self.tokens[worker % len(self.tokens)]}"}


@dataclass(frozen=True)
class Timing:
    """perf_counter() marks of one call: sent, first content token (streaming only), last byte."""

    start: float
    first: float
    end: float


def body(stream: bool, max_tokens: int) -> dict[str, object]:
    return {"model": "fake-echo", "messages": PROMPT, "max_tokens": max_tokens, "stream": stream}


async def call(
    client: httpx.AsyncClient, target: Target, worker: int, stream: bool, max_tokens: int = 16
) -> Timing:
    """One chat completion. Streaming: `first` is the first `data:` line with a non-empty content delta."""
    payload, headers = body(stream, max_tokens), target.headers(worker)
    start = time.perf_counter()
    if not stream:
        response = await client.post(target.url, json=payload, headers=headers)
        end = time.perf_counter()
        if response.status_code != 200:
            raise CallFailed(f"HTTP {response.status_code}: {response.text[:300]}")
        content = response.json()["choices"][0]["message"]["content"]
        if not content:
            raise CallFailed("empty completion")
        return Timing(start, end, end)
    first, done = 0.0, False
    async with client.stream("POST", target.url, json=payload, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            raise CallFailed(f"HTTP {response.status_code}: {response.text[:300]}")
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            event = json.loads(data)
            if "error" in event:
                raise CallFailed(f"error event: {event['error']}")
            choices = event.get("choices") or [{}]
            if not first and (choices[0].get("delta") or {}).get("content"):
                first = time.perf_counter()
    end = time.perf_counter()
    if not first or not done:
        raise CallFailed(f"stream ended without {'a content token' if not first else '[DONE]'}")
    return Timing(start, first, end)


@dataclass
class PhaseResult:
    first: list[float] = field(default_factory=list)  # seconds to the first token (or the whole answer)
    total: list[float] = field(default_factory=list)  # seconds to the last byte
    errors: int = 0
    first_error: str | None = None
    wall: float = 0.0

    def record_error(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"[:400]


async def warm_up(
    clients: list[httpx.AsyncClient], target: Target, stream: bool, concurrency: int, n: int
) -> None:
    """Open the connections and warm the caches: n calls one by one, or one call per worker at once."""
    if concurrency == 1:
        for _ in range(n):
            await call(clients[0], target, 0, stream)
    else:
        await asyncio.gather(*(call(clients[w], target, w, stream) for w in range(concurrency)))


async def measure(
    clients: list[httpx.AsyncClient], target: Target, stream: bool, concurrency: int, n: int, label: str
) -> PhaseResult:
    """n calls spread over `concurrency` workers (worker w uses clients[w] and the w-th token);
    bounded by PHASE_DEADLINE_S and by errors."""
    result = PhaseResult()
    counter = itertools.count()
    deadline = time.monotonic() + PHASE_DEADLINE_S
    max_errors = max(10, n // 10)
    marks = {n * k // 4 for k in (1, 2, 3)}

    async def worker(w: int) -> None:
        while next(counter) < n and time.monotonic() < deadline and result.errors < max_errors:
            try:
                timing = await call(clients[w], target, w, stream)
            except (CallFailed, httpx.HTTPError, ValueError, KeyError) as exc:
                result.record_error(exc)
            else:
                result.first.append(timing.first - timing.start)
                result.total.append(timing.end - timing.start)
            done = len(result.first) + result.errors
            if done in marks:
                marks.discard(done)
                print(f"    {label}: {done}/{n}", flush=True)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    result.wall = time.perf_counter() - t0
    if time.monotonic() >= deadline:
        print(f"    {label}: stopped at the {PHASE_DEADLINE_S:.0f}s phase limit", flush=True)
    if result.errors >= max_errors:
        print(f"    {label}: stopped after {result.errors} errors", flush=True)
    return result


async def run_phase(
    clients: list[httpx.AsyncClient],
    target: Target,
    mode: str,
    conc: int,
    n: int,
    warmup: int,
    pids: dict[str, int],
) -> dict[str, Any]:
    """Warm up, then n measured calls; CPU per call of every process in `pids`, of us and of the host."""
    stream, label = mode == "stream", f"{mode} c={conc} {target.name}"
    print(f"  {label}: warm-up, then {n} calls", flush=True)
    await warm_up(clients, target, stream, conc, warmup)
    before = {k: cpu_seconds(pid) for k, pid in pids.items()}
    client_cpu, host_before = time.process_time(), host_cpu_times()
    res = await measure(clients, target, stream, conc, n, label)
    ok = max(len(res.first), 1)
    host_after = host_cpu_times()
    busy = (host_after[0] - host_before[0]) / max(host_after[1] - host_before[1], 1)
    cpu = {k: (cpu_seconds(pid) - before[k]) * 1000 / ok for k, pid in pids.items()}
    cpu["client"] = (time.process_time() - client_cpu) * 1000 / ok
    lat = Summary.of(res.first)
    rps = len(res.first) / res.wall if res.wall else 0.0
    print(
        f"    {label}: p50 {lat.p50:.2f} ms, p99 {lat.p99:.2f} ms, {rps:.0f} req/s, "
        f"host CPU {busy:.0%} busy, {res.errors} errors",
        flush=True,
    )
    if res.first_error:
        print(f"    first error: {res.first_error}", flush=True)
    return {
        "mode": mode,
        "concurrency": conc,
        "target": "api" if target.tokens else "direct",
        "label": target.name,
        "requests": n,
        "errors": res.errors,
        "first_error": res.first_error,
        "wall_s": res.wall,
        "throughput_rps": rps,
        "latency_ms": lat.as_dict(),  # non-streaming: whole answer; streaming: first token
        "total_ms": Summary.of(res.total).as_dict(),
        "cpu_ms_per_req": cpu,
        "host_cpu_busy_pct": busy * 100,
        "api_core_pct": cpu.get("api", 0.0) * rps / 10,  # ms of CPU per s of wall, as % of one core
    }


async def run_phases(
    direct: Target,
    api: Target,
    pids: dict[str, int],
    sequential: int,
    requests: int,
    concurrency: int,
    warmup: int,
) -> list[dict[str, Any]]:
    """Non-streaming, then streaming; at concurrency 1, then `concurrency`; direct, then via the API."""
    phases = []
    # One client with one connection per worker, as each user would have: a single shared httpx pool
    # spends CPU per request that grows with its connection count (httpcore's pool bookkeeping), which
    # at concurrency 50 made the client, not the server, the bottleneck of the direct baseline.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    solo = Target(api.name, api.url, api.tokens[-1:])  # the extra user, for the sequential phases
    workers = Target(api.name, api.url, api.tokens[:concurrency])
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(timeout=TIMEOUT, limits=limits))
            for _ in range(concurrency)
        ]
        for mode in ("nonstream", "stream"):
            for conc, n in ((1, sequential), (concurrency, requests)):
                for target in (direct, solo if conc == 1 else workers):
                    phases.append(await run_phase(clients, target, mode, conc, n, warmup, pids))
    return phases
