"""The floor under our native lane: CPU time of one native call alone, in one process.

`python -m bench.native_floor --base http://127.0.0.1:PORT/v1 --n 200` calls the fake provider n times one
by one through shared/gateway/native/ (non-streaming, then streaming and reading every delta) and prints
one JSON line: {"nonstream_cpu_ms": ..., "stream_cpu_ms": ...}, CPU milliseconds of this process per call,
to set beside bench/litellm_floor.py's figures for `litellm.acompletion`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from shared.catalog.catalog import Deployment
from shared.gateway.calls import Limits
from shared.gateway.native.lane import NativeLane, NativeStream
from shared.gateway.native.wire import Wire
from shared.gateway.types import Served
from shared.settings import Settings

PROMPT = [{"role": "user", "content": "Reply with a few words, please."}]
LIMITS = Limits(connect_s=5, first_token_s=30, idle_s=30, total_s=60)


async def cpu_per_call(lane: NativeLane, deployment: Deployment, wire: Wire, n: int, stream: bool) -> float:
    served = Served(None, deployment)  # type: ignore[arg-type]  # the stream reads only the deployment

    async def one() -> None:
        if not stream:
            await lane.complete(wire, deployment, PROMPT, 16, {}, LIMITS)
            return
        upstream = await lane.open(wire, deployment, PROMPT, 16, {}, LIMITS)
        reader = NativeStream(upstream, served, LIMITS, time.monotonic() + LIMITS.total_s)
        try:
            await reader.prime()
            async for _delta in reader:
                pass
        finally:
            await reader.aclose()

    for _ in range(max(5, n // 10)):
        await one()
    t0 = time.process_time()
    for _ in range(n):
        await one()
    return (time.process_time() - t0) * 1000 / n


async def main_async(base: str, n: int) -> dict[str, float]:
    lane = NativeLane(Settings())
    deployment = Deployment("fake-echo@fake#0", "fake-echo", "fake", "openai/fake-echo", base, "fake-key")
    wire = lane.wire(deployment)
    assert wire is not None
    try:
        return {
            "nonstream_cpu_ms": await cpu_per_call(lane, deployment, wire, n, False),
            "stream_cpu_ms": await cpu_per_call(lane, deployment, wire, n, True),
        }
    finally:
        await lane.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.base, args.n))), flush=True)


if __name__ == "__main__":
    main()
