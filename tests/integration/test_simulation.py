"""The money simulator in every CI run: 10,000 seeded operations (the ledger, workspace shards, Stripe
events and SSLCommerz notifications through the payments handler, jobs through the step runner and the
sweep, metered embedding calls, live transcription sessions, vector stores' daily storage charges) with
faults injected at Firestore's commits, crashes between two writes, providers down and Cloud
Tasks lost, the model checked after every step (tests/sim). Replay a failure with the SIM_* line it
prints, through `make sim`."""

from __future__ import annotations

import os
import random

import pytest

from tests.sim.faults import CRASH, KINDS, PROVIDER_DOWN, TASK_LOST
from tests.sim.run import simulate
from tests.sim.world import WEIGHTS

pytestmark = pytest.mark.anyio


@pytest.mark.timeout(1_800)  # about 4 minutes on two cores; the limit leaves room for a slow runner
async def test_ten_thousand_operations_with_faults_break_no_invariant() -> None:
    seed = int(os.environ.get("SIM_SEED") or random.randrange(2**32))
    operations = int(os.environ.get("SIM_OPS") or 10_000)
    result = await simulate(seed, operations, float(os.environ.get("SIM_FAULTS") or 0.05))
    assert result.violation is None, result.violation
    assert result.operations == operations
    # The run reached what it is meant to: every kind of operation, and faults of every kind.
    assert all(result.counts[op] > 0 for op in WEIGHTS), (result.counts, seed)
    kinds = (*KINDS, CRASH, PROVIDER_DOWN, TASK_LOST)
    assert all(result.fault_counts[kind] > 0 for kind in kinds), (result.fault_counts, seed)
