"""The floor under any server built on litellm: CPU time of `litellm.acompletion` alone, in one process.

`python -m bench.litellm_floor --base http://127.0.0.1:PORT/v1 --n 200` calls the fake provider n times
one by one (non-streaming, then streaming and reading every chunk) and prints one JSON line:
{"nonstream_cpu_ms": ..., "stream_cpu_ms": ...}, CPU milliseconds of this process per call. Both our API
and LiteLLM's proxy make one such call per request, so neither can use less CPU per request than this.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

PROMPT = [{"role": "user", "content": "Reply with a few words, please."}]


async def cpu_per_call(base: str, n: int, stream: bool) -> float:
    import litellm

    async def one() -> None:
        response = await litellm.acompletion(
            model="openai/fake-echo",
            api_base=base,
            api_key="fake-key",
            messages=PROMPT,
            max_tokens=16,
            stream=stream,
        )
        if stream:
            async for _chunk in response:  # type: ignore[union-attr]
                pass

    for _ in range(max(5, n // 10)):
        await one()
    t0 = time.process_time()
    for _ in range(n):
        await one()
    return (time.process_time() - t0) * 1000 / n


async def main_async(base: str, n: int) -> dict[str, float]:
    return {
        "nonstream_cpu_ms": await cpu_per_call(base, n, False),
        "stream_cpu_ms": await cpu_per_call(base, n, True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    print(json.dumps(asyncio.run(main_async(args.base, args.n))), flush=True)


if __name__ == "__main__":
    main()
