"""For our API: the time from a provider failure to the first token from the fallback model.

A bench-only catalog model, `bench-fallback`, is served by the fake provider's `fake-500` script (an
immediate HTTP 500), with one attempt and `fallbacks = ["fake-echo"]`. Its streaming time to first token,
minus that of `fake-echo` called alone (interleaved with it, same user), is the time
the failure and the switch add. Guarded: if the catalog has no fallback support, it says so.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from bench import load
from tests.fakes.provider import INPUT_PRICE, OUTPUT_PRICE

MODEL = "bench-fallback"
WORKING = "fake-echo"


def supported() -> bool:
    """Whether this checkout's catalog knows `fallbacks` (the router's work)."""
    try:
        from shared.catalog.catalog import ModelSpec
    except ImportError:
        return False
    return "fallbacks" in {f.name for f in dataclasses.fields(ModelSpec)}


def catalog_toml() -> str:
    """The failing model, appended to the fake provider's catalog."""
    return (
        f'\n[[models]]\nid = "{MODEL}"\nprovider = "fake"\nlitellm_model = "openai/fake-500"\n'
        f'fallbacks = ["{WORKING}"]\nmax_attempts = 1\n'
        f"input_price = {INPUT_PRICE}\noutput_price = {OUTPUT_PRICE}\n"
        "context_window = 8192\nmax_output_tokens = 2048\ntimeout_s = 20.0\n"
    )


async def measure(api: load.Target, n: int, warmup: int, pids: dict[str, int]) -> dict[str, Any]:
    """Stream TTFT at concurrency 1: the working model alone, then the failing one that falls back to it."""
    if not supported():
        return {"available": False, "reason": "the catalog has no `fallbacks` (router work not landed)"}
    token = api.tokens[-1:]
    alone = dataclasses.replace(api, tokens=token, model=WORKING, name="ours fake-echo")
    chain = dataclasses.replace(api, tokens=token, model=MODEL, name=f"ours {MODEL}")
    async with httpx.AsyncClient(timeout=load.TIMEOUT) as client:
        served = await client.post(api.url, json=load.body(MODEL, False, 16), headers=chain.headers(0))
    if served.status_code != 200 or served.headers.get("x-model") != WORKING:
        return {
            "available": False,
            "reason": f"{MODEL} was not served by {WORKING}: HTTP {served.status_code} "
            f"X-Model {served.headers.get('x-model')!r} {served.text[:200]}",
        }
    first, second = await load.interleaved([alone, chain], "stream", 1, n, warmup, pids)
    a, b = first["latency_ms"], second["latency_ms"]
    return {
        "available": True,
        "chain": f"{MODEL} (fake-500, 1 attempt) -> {WORKING}",
        "n": b["n"],
        "errors": second["errors"],
        "alone_p50_ms": a["p50"],
        "alone_p99_ms": a["p99"],
        "fallback_p50_ms": b["p50"],
        "fallback_p99_ms": b["p99"],
        "added_p50_ms": b["p50"] - a["p50"],
        "added_p99_ms": b["p99"] - a["p99"],
        "added_cpu_ms": second["cpu_ms_per_req"].get("api", 0.0) - first["cpu_ms_per_req"].get("api", 0.0),
        "phases": [first, second],
    }
