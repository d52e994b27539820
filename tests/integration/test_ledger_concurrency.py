"""Concurrent requests on the ledger: no overspend, no lost update.

One Ledger (one API instance) lets the requests of a wallet take turns in process; separate
Ledger instances with their own clients (separate API instances) contend in Firestore itself,
which the emulator serializes slowly (~0.5 tx/s per document, with lock timeouts), so those tests keep
to 5 contenders and, as a client would, retry an operation that answered LedgerBusy.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import pytest
from google.cloud import firestore

from shared.ledger.errors import InsufficientCredits, LedgerBusy
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Hold
from tests.support.ledger import check_invariants, close_client, ledger_settings

pytestmark = pytest.mark.anyio

GRANT = 10_000
FLOWS = 5


@pytest.fixture
async def clients() -> AsyncIterator[list[firestore.AsyncClient]]:
    """One client per simulated API instance."""
    made = [firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"]) for _ in range(FLOWS)]
    yield made
    for client in made:
        await close_client(client)


async def retried(op: Callable[[], Awaitable[Hold]]) -> Hold:
    """What a client does with 503 ledger_busy: try again. Safe, because hold ids are idempotency keys."""
    for _ in range(3):
        try:
            return await op()
        except LedgerBusy:
            continue
    return await op()


async def flow(ledger: Ledger, wallet_id: str, hold_id: str, want: int, spend: int) -> Hold:
    hold = await retried(lambda: ledger.reserve(wallet_id, hold_id, want=want, minimum=1))
    assert hold.amount == want
    return await retried(lambda: ledger.settle(wallet_id, hold_id, spend))


async def run_flows(
    db: firestore.AsyncClient,
    ledgers: list[Ledger],
    wallets: list[str],
    rng: random.Random,
    flows: int = FLOWS,
) -> None:
    """`flows` concurrent reserve+settle flows per wallet, all wallets at once; flow i: ledgers[i % len].
    `db` reads the wallets back for the invariants."""
    for wallet_id in wallets:
        assert await ledgers[0].grant(wallet_id, GRANT, "start")
    plans = {
        (w, i): (rng.randint(1, GRANT // flows), rng.randint(0, GRANT // flows))
        for w in wallets
        for i in range(flows)
    }
    results = await asyncio.gather(
        *(flow(ledgers[i % len(ledgers)], w, f"h{i}", want, spend) for (w, i), (want, spend) in plans.items())
    )
    charged = {w: 0 for w in wallets}
    for ((w, _), (want, spend)), hold in zip(plans.items(), results, strict=True):
        assert (hold.state, hold.charged) == ("settled", min(want, spend))
        charged[w] += hold.charged
    for wallet_id in wallets:
        stored = await check_invariants(db, wallet_id)
        assert (stored["available"], stored["reserved"]) == (GRANT - charged[wallet_id], 0)
        assert stored["seq"] == 1 + 2 * flows


async def test_many_wallets_concurrent_flows_one_instance(clients: list[firestore.AsyncClient]) -> None:
    ledger = Ledger(clients[0], ledger_settings())
    wallets = [f"w-conc-{uuid.uuid4().hex}" for _ in range(20)]
    await run_flows(clients[0], [ledger], wallets, random.Random(1))


async def test_concurrent_flows_across_instances(clients: list[firestore.AsyncClient]) -> None:
    """Three instances, two flows each, on one wallet: six reserve+settle flows contending in Firestore."""
    ledgers = [Ledger(client, ledger_settings()) for client in clients[:3]]
    await run_flows(clients[0], ledgers, [f"w-inst-{uuid.uuid4().hex}"], random.Random(2), flows=6)


async def test_concurrent_reserves_cannot_overspend(clients: list[firestore.AsyncClient]) -> None:
    """Five instances race to hold 300 (at least 100) of 1,000: 300, 300, 300 and 100 succeed, one fails."""
    ledgers = [Ledger(client, ledger_settings()) for client in clients]
    wallet_id = f"w-race-{uuid.uuid4().hex}"
    await ledgers[0].grant(wallet_id, 1_000, "start")
    results = await asyncio.gather(
        *(
            retried(partial(ledger.reserve, wallet_id, f"h{i}", want=300, minimum=100))
            for i, ledger in enumerate(ledgers)
        ),
        return_exceptions=True,
    )
    holds = [r for r in results if isinstance(r, Hold)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(holds) + len(refused) == len(results), results
    assert sorted(h.amount for h in holds) == [100, 300, 300, 300]
    assert len(refused) == 1
    stored = await check_invariants(clients[0], wallet_id)
    assert (stored["available"], stored["reserved"]) == (0, 1_000)
