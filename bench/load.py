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
ROUNDS = 5  # slices per phase that the targets take turns at


class CallFailed(Exception):
    pass


@dataclass(frozen=True)
class Target:
    """Where the calls go: the fake provider directly (no tokens, no server) or a server (our API with one
    token per worker, or LiteLLM's proxy with its master key); `server` names its pid in the CPU table."""

    name: str
    url: str
    tokens: tuple[str, ...] = ()
    server: str | None = None
    model: str = "fake-echo"

    def subset(self, tokens: tuple[str, ...]) -> Target:
        return Target(self.name, self.url, tokens or self.tokens, self.server, self.model)

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


def body(model: str, stream: bool, max_tokens: int) -> dict[str, object]:
    return {"model": model, "messages": PROMPT, "max_tokens": max_tokens, "stream": stream}


async def call(
    client: httpx.AsyncClient, target: Target, worker: int, stream: bool, max_tokens: int = 16
) -> Timing:
    """One chat completion. Streaming: `first` is the first `data:` line with a non-empty content delta."""
    payload, headers = body(target.model, stream, max_tokens), target.headers(worker)
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
    """What a phase accumulates over its rounds."""

    first: list[float] = field(default_factory=list)  # seconds to the first token (or the whole answer)
    total: list[float] = field(default_factory=list)  # seconds to the last byte
    errors: int = 0
    first_error: str | None = None
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process name
    host_busy: float = 0.0  # jiffies
    host_total: float = 0.0

    def record_error(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"[:400]


async def warm_up(
    clients: list[httpx.AsyncClient], target: Target, stream: bool, concurrency: int, n: int
) -> None:
    """Open the connections and warm the caches: n calls one by one, or one call per worker at once.
    A failure here (say, a keep-alive connection the server closed just then) is not counted."""
    if concurrency == 1:
        for _ in range(n):
            with contextlib.suppress(CallFailed, httpx.HTTPError):
                await call(clients[0], target, 0, stream)
    else:
        calls = (call(clients[w], target, w, stream) for w in range(concurrency))
        await asyncio.gather(*calls, return_exceptions=True)


async def measure(
    clients: list[httpx.AsyncClient],
    target: Target,
    stream: bool,
    concurrency: int,
    n: int,
    result: PhaseResult,
    pids: dict[str, int],
) -> None:
    """n calls spread over `concurrency` workers (worker w uses clients[w] and the w-th token), added to
    `result` with the CPU every process in `pids` (and this one, as "client") spent meanwhile; bounded by
    PHASE_DEADLINE_S and by errors."""
    counter = itertools.count()
    deadline = time.monotonic() + PHASE_DEADLINE_S
    max_errors = result.errors + max(10, n // 10)

    async def worker(w: int) -> None:
        while next(counter) < n and time.monotonic() < deadline and result.errors < max_errors:
            try:
                timing = await call(clients[w], target, w, stream)
            except (CallFailed, httpx.HTTPError, ValueError, KeyError) as exc:
                result.record_error(exc)
            else:
                result.first.append(timing.first - timing.start)
                result.total.append(timing.end - timing.start)

    before = {k: cpu_seconds(pid) for k, pid in pids.items()}
    client_cpu, host_before = time.process_time(), host_cpu_times()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    result.wall += time.perf_counter() - t0
    host_after = host_cpu_times()
    for k, pid in pids.items():
        result.cpu[k] = result.cpu.get(k, 0.0) + cpu_seconds(pid) - before[k]
    result.cpu["client"] = result.cpu.get("client", 0.0) + time.process_time() - client_cpu
    result.host_busy += host_after[0] - host_before[0]
    result.host_total += host_after[1] - host_before[1]
    if time.monotonic() >= deadline:
        print(f"    {target.name}: stopped at the {PHASE_DEADLINE_S:.0f}s limit of a round", flush=True)
    if result.errors >= max_errors:
        print(f"    {target.name}: stopped after {result.errors} errors", flush=True)


def summarize(target: Target, mode: str, conc: int, n: int, res: PhaseResult) -> dict[str, Any]:
    ok = max(len(res.first), 1)
    cpu = {k: v * 1000 / ok for k, v in res.cpu.items()}  # ms per successful call
    server_cpu = cpu.get(target.server, 0.0) if target.server else 0.0
    busy = res.host_busy / max(res.host_total, 1)
    lat = Summary.of(res.first)
    rps = len(res.first) / res.wall if res.wall else 0.0
    print(
        f"    {mode} c={conc} {target.name}: p50 {lat.p50:.2f} ms, p99 {lat.p99:.2f} ms, {rps:.0f} req/s, "
        f"host CPU {busy:.0%} busy, {res.errors} errors"
        + (f", {server_cpu:.2f} ms server CPU/req" if target.server else ""),
        flush=True,
    )
    if res.first_error:
        print(f"    first error: {res.first_error}", flush=True)
    return {
        "mode": mode,
        "concurrency": conc,
        "target": target.server or "direct",
        "label": target.name,
        "model": target.model,
        "requests": n,
        "errors": res.errors,
        "first_error": res.first_error,
        "wall_s": res.wall,
        "throughput_rps": rps,
        "latency_ms": lat.as_dict(),  # non-streaming: whole answer; streaming: first token
        "total_ms": Summary.of(res.total).as_dict(),
        "cpu_ms_per_req": cpu,
        "host_cpu_busy_pct": busy * 100,
        "server_core_pct": server_cpu * rps / 10,  # ms of CPU per s of wall, as % of one core
    }


async def interleaved(
    targets: list[Target],
    mode: str,
    conc: int,
    n: int,
    warmup: int,
    pids: dict[str, int],
    rounds: int = ROUNDS,
) -> list[dict[str, Any]]:
    """n calls per target at concurrency `conc`, in `rounds` slices that take turns (the order rotating
    each round), so a burst of other work on the machine hits every target alike. Each target has its own
    clients, one connection per worker, as each user would have: one shared httpx pool of 50+ connections
    spends enough CPU per request (httpcore's pool bookkeeping) to make the client the bottleneck. Before
    each slice a short warm-up reopens any connection the server closed while idle."""
    stream = mode == "stream"
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    results = {t.name: PhaseResult() for t in targets}
    print(f"  {mode} c={conc}: {n} calls per target in {rounds} rounds", flush=True)
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            t.name: [
                await stack.enter_async_context(httpx.AsyncClient(timeout=TIMEOUT, limits=limits))
                for _ in range(conc)
            ]
            for t in targets
        }
        for r in range(rounds):
            part = n * (r + 1) // rounds - n * r // rounds
            for t in targets[r % len(targets) :] + targets[: r % len(targets)]:
                await warm_up(clients[t.name], t, stream, conc, warmup if r == 0 else 2)
                await measure(clients[t.name], t, stream, conc, part, results[t.name], pids)
    phases = [summarize(t, mode, conc, n, results[t.name]) for t in targets]
    # A server's deferred work (the lease path's flushes and closes) runs in whichever slice is measured
    # then, often another target's: its CPU over every slice of the phase, per call it answered.
    for t, phase in zip(targets, phases, strict=True):
        if t.server:
            whole = sum(res.cpu.get(t.server, 0.0) for res in results.values())
            phase["server_cpu_ms_per_req_whole_phase"] = whole * 1000 / max(len(results[t.name].first), 1)
    return phases


async def run_phases(
    direct: Target,
    servers: list[Target],
    pids: dict[str, int],
    sequential: int,
    requests: int,
    concurrency: int,
    warmup: int,
) -> list[dict[str, Any]]:
    """Non-streaming, then streaming; at concurrency 1, then `concurrency`; direct and each server
    interleaved, so every server has a baseline measured under the same conditions."""
    phases = []
    for mode in ("nonstream", "stream"):
        for conc, n in ((1, sequential), (concurrency, requests)):
            # Our API: the extra user for the sequential phases, one user per worker otherwise.
            targets = [t.subset(t.tokens[-1:] if conc == 1 else t.tokens[:conc]) for t in (direct, *servers)]
            phases += await interleaved(targets, mode, conc, n, warmup, pids)
    return phases
