"""`python -m tests.sim` (what `make sim` runs, with the emulators up): SIM_SEED, SIM_OPS, SIM_FAULTS.
The last line is always `N operations, F faults injected, V violations, seed S`; exit status 1 on a
violation, with the step, the last operations and the command that replays it."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
from pathlib import Path

from tests.sim.run import simulate


def main() -> int:
    seed = int(os.environ.get("SIM_SEED") or random.randrange(2**32))
    operations = int(os.environ.get("SIM_OPS") or 10_000)
    rate = float(os.environ.get("SIM_FAULTS") or 0.05)
    logging.disable(logging.CRITICAL)  # the ledger's own logs of injected faults would drown the report
    result = asyncio.run(simulate(seed, operations, rate))
    print(f"{result.seconds:.1f} s; operations by kind: {result.counts}", flush=True)
    print(f"faults by kind: {result.fault_counts}", flush=True)
    if os.environ.get("SIM_TRACE"):
        Path(os.environ["SIM_TRACE"]).write_text("\n".join(result.trace) + "\n")
    if result.violation:
        print(f"VIOLATION at {result.violation}", flush=True)
    print(result.summary(), flush=True)
    return 1 if result.violation else 0


if __name__ == "__main__":
    sys.exit(main())
