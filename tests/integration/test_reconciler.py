"""The reconciler function: due pending holds expire exactly once; everything else is left alone."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import functions_framework
import pytest
from google.cloud import firestore

from shared.ledger.ledger import Ledger
from shared.settings import get_settings
from tests.support.ledger import check_invariants, ledger_settings

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "functions" / "reconciler" / "main.py"


@pytest.fixture
def reconciler() -> Iterator[Any]:
    """The function's Flask test client; the root logger is restored after it configured JSON logs."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield functions_framework.create_app(target="reconcile", source=str(SOURCE)).test_client()
    root.handlers[:] = handlers
    root.setLevel(level)


async def state(ledger: Ledger, wallet_id: str, hold_id: str) -> str:
    hold = await ledger.hold(wallet_id, hold_id)
    assert hold is not None
    return hold.state


async def sweep(reconciler: Any) -> int:
    # The function runs its own event loop (asyncio.run), so call it from a worker thread.
    response = await anyio.to_thread.run_sync(reconciler.post, "/")
    assert response.status_code == 200, response.get_data(as_text=True)
    expired: int = response.get_json()["expired"]
    return expired


async def test_sweep_expires_due_holds_exactly_once(db: firestore.AsyncClient, reconciler: Any) -> None:
    ledger = Ledger(db, ledger_settings(hold_ttl_s=3600))
    wallet, other = f"w-recon-{uuid.uuid4().hex}", f"w-recon-{uuid.uuid4().hex}"
    await ledger.grant(wallet, 1_000, "g")
    await ledger.grant(other, 500, "g")
    await ledger.reserve(wallet, "due-1", want=100, minimum=1, ttl_s=-1)
    await ledger.reserve(wallet, "due-2", want=200, minimum=1, ttl_s=-1)
    await ledger.reserve(wallet, "live", want=150, minimum=1)
    await ledger.reserve(wallet, "settled", want=50, minimum=1, ttl_s=-1)
    await ledger.settle(wallet, "settled", 30)
    await ledger.reserve(other, "due-3", want=400, minimum=1, ttl_s=-1)
    await check_invariants(db, wallet)

    first = await sweep(reconciler)
    assert first >= 3
    states = {h: await state(ledger, wallet, h) for h in ("due-1", "due-2", "live", "settled")}
    assert states == {"due-1": "expired", "due-2": "expired", "live": "pending", "settled": "settled"}
    assert await state(ledger, other, "due-3") == "expired"
    mine = await check_invariants(db, wallet)
    assert (mine["available"], mine["reserved"], mine["settled"]) == (820, 150, 30)
    theirs = await check_invariants(db, other)
    assert (theirs["available"], theirs["reserved"]) == (500, 0)

    second = await sweep(reconciler)
    if first < get_settings().reconcile_batch:  # the first sweep took every due hold there was
        assert second == 0
    assert await check_invariants(db, wallet) == mine
    assert await check_invariants(db, other) == theirs


async def test_sweep_expires_due_lots_once(db: firestore.AsyncClient, reconciler: Any) -> None:
    ledger = Ledger(db, ledger_settings())
    wallet = f"w-recon-{uuid.uuid4().hex}"
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    await ledger.grant(wallet, 300, "plan", expires_at=ends)
    await ledger.grant(wallet, 40, "top-up")
    await ledger.reserve(wallet, "live", want=100, minimum=1)  # 100 of the lot, held
    await anyio.sleep(1.2)

    response = await anyio.to_thread.run_sync(reconciler.post, "/")
    assert response.status_code == 200
    assert response.get_json()["lots_expired"] >= 1
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["expired"]) == (40, 100, 200)
    snap = await db.collection("wallets").document(wallet).get()
    assert "lots" not in snap.to_dict()
    await sweep(reconciler)
    assert await check_invariants(db, wallet) == w
    await ledger.void(wallet, "live")  # the held part of the lot expires as it comes back
    w = await check_invariants(db, wallet)
    assert (w["available"], w["reserved"], w["expired"]) == (40, 0, 300)


async def test_command_line_runs_one_sweep(db: firestore.AsyncClient) -> None:
    ledger = Ledger(db, ledger_settings())
    wallet = f"w-recon-{uuid.uuid4().hex}"
    await ledger.grant(wallet, 100, "g")
    await ledger.reserve(wallet, "due", want=60, minimum=1, ttl_s=-1)

    result = await anyio.run_process(
        [sys.executable, "-m", "functions.reconciler.main"],
        cwd=ROOT,
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines() if line.startswith("{")]
    done = [line for line in lines if line.get("message") == "reconcile sweep done"]
    assert len(done) == 1
    assert done[0]["expired"] >= 1
    assert await state(ledger, wallet, "due") == "expired"
    await check_invariants(db, wallet)
