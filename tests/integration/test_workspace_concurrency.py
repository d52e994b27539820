"""50 members' requests at once on one sharded workspace wallet.

Two scenarios, both with 50 concurrent asyncio tasks, 25 members (two requests each, five of them with
a monthly limit of one request) and a 16-shard wallet:

- five simulated API instances (own Firestore client, ledger and sharded wallet each, with separate shard
  windows) on a wallet that can pay every request: nothing stalls, nobody passes their limit, and the
  shards sum to what was granted minus what was charged;
- one instance on a wallet that holds less than the requests want (35 of 45 allowed): exactly what the
  wallet holds is spent, the rest is refused, credits scattered over shards are gathered to pay.

The Firestore emulator stalls when transactions of several clients contend on one document (TOOLBOX.md),
which production Firestore does not; an exhausted wallet makes every instance reach outside its window at
once, so the exhaustion scenario runs in one instance (its requests take turns in process per shard).
After each: every shard satisfies the ledger's invariants.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from google.cloud import firestore

from shared.ledger.errors import InsufficientCredits
from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import shard_wallets, workspace_wallet_base
from shared.plans.offers import plan_offers
from shared.purchases.repository import BillingRepository
from shared.spending.members import WorkspaceSpending
from shared.workspaces.errors import MemberLimitExceeded
from shared.workspaces.service import WorkspaceService
from tests.support.ledger import check_invariants, close_client, ledger_settings
from tests.support.workspaces import add_member

pytestmark = pytest.mark.anyio

SHARDS = 16
MEMBERS = 25
SPENDERS = 50  # two requests per member
LIMITED = 5  # members whose monthly limit is one request
PRICE = 1_000
NOT_STALLED_S = 120  # a guard against a hang, not a measurement


@pytest.fixture
async def clients() -> AsyncIterator[list[firestore.AsyncClient]]:
    made = [firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"]) for _ in range(5)]
    yield made
    for client in made:
        await close_client(client)


async def run_spenders(clients: list[firestore.AsyncClient], grant: int) -> tuple[Counter[str], int]:
    """50 spenders over `clients` (one instance each); (outcomes, credits left). Checks limits and sums."""
    settings = ledger_settings(workspace_wallet_shards=SHARDS)
    service = WorkspaceService(clients[0], settings, plan_offers(settings), BillingRepository(clients[0]))
    owner = "u-" + uuid.uuid4().hex
    ws = (await service.create(owner, f"{owner}@example.com", "Busy")).id
    members = [f"u-{uuid.uuid4().hex}" for _ in range(MEMBERS)]
    limited = set(members[:LIMITED])
    for user_id in members:
        await add_member(service, ws, user_id, PRICE if user_id in limited else None)
    window = SHARDS // len(clients)
    instances = [
        WorkspaceSpending(c, ShardedWallets(Ledger(c, settings), home=window * i, window=window))
        for i, c in enumerate(clients)
    ]
    base = workspace_wallet_base(ws)
    assert await instances[0].wallets.grant(base, SHARDS, grant, "allotment-1") == grant

    async def spend(i: int) -> str:
        spending, user_id, hold_id = instances[i % len(instances)], members[i % MEMBERS], f"req-{i}"
        try:
            hold = await spending.reserve(ws, user_id, hold_id, want=PRICE, minimum=PRICE)
        except (InsufficientCredits, MemberLimitExceeded) as refused:
            return refused.code
        assert hold.amount == PRICE
        settled = await spending.settle(ws, hold_id, PRICE, wallet_id=hold.wallet_id)
        assert (settled.state, settled.charged) == ("settled", PRICE)
        return "spent"

    outcomes = await asyncio.wait_for(asyncio.gather(*(spend(i) for i in range(SPENDERS))), NOT_STALLED_S)

    counts = Counter(outcomes)
    assert set(counts) <= {"spent", "insufficient_credits", "member_limit_exceeded"}, counts
    spent = counts["spent"]
    assert spent * PRICE <= grant  # never more than the wallet held
    by_member = Counter(members[i % MEMBERS] for i, o in enumerate(outcomes) if o == "spent")
    assert all(by_member[u] <= 1 for u in limited), by_member  # nobody past their limit
    for user_id in members:
        assert await instances[0].used(ws, user_id) == by_member[user_id] * PRICE

    available = reserved = 0
    for wallet_id in shard_wallets(base, SHARDS):
        state = await check_invariants(clients[0], wallet_id)
        available, reserved = available + state["available"], reserved + state["reserved"]
    assert (available, reserved) == (grant - spent * PRICE, 0)
    total = await instances[0].wallets.balance(base, SHARDS)
    assert (total.available, total.reserved) == (available, reserved)
    return counts, available


async def test_fifty_spenders_on_five_instances(clients: list[firestore.AsyncClient]) -> None:
    counts, left = await run_spenders(clients, grant=SHARDS * 10 * PRICE)
    assert counts == {"spent": SPENDERS - LIMITED, "member_limit_exceeded": LIMITED}, counts
    assert left == (SHARDS * 10 - SPENDERS + LIMITED) * PRICE


async def test_fifty_spenders_cannot_overspend(clients: list[firestore.AsyncClient]) -> None:
    counts, left = await run_spenders(clients[:1], grant=35 * PRICE)
    assert counts["spent"] == 35, counts  # all the wallet held, gathered from scattered shards
    assert counts["spent"] + counts["insufficient_credits"] + counts["member_limit_exceeded"] == SPENDERS
    assert left == 0
