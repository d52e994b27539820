"""Payments into the wallet they were for: a user's own wallet, or a workspace's sharded wallet.

A workspace's payment is one Purchases purchase on its shard 0 (`ws-{id}~0`), so it is granted
exactly once and pays the workspace's debt first, like any purchase. Then the rest is spread over the
shards by transfers whose ids derive from the payment id: a replay moves nothing twice, and a crash
between the purchase and the spread only leaves credits on shard 0, where reservations that their own
shard cannot hold gather them from anyway (ShardedWallets). A transfer moves the soonest-expiring lots
first and keeps their expiry, so an allotment stays expiring on every shard.

A clawback (refund, dispute) of a workspace's payment first gathers what the workspace has into shard 0,
up to what the clawback takes (transfers keyed by the clawback id), so that it takes what the workspace
really has and only the rest becomes debt, on shard 0, where spending checks for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shared.ids import stable_id
from shared.ledger.shards import ShardedWallets, split
from shared.ledger.wallet_ids import ledger_wallet, shard_wallet, workspace_of, workspace_wallet_base
from shared.purchases.payments import PaymentOutcome, Purchases, share

log = logging.getLogger("billing.funding")


# A workspace's shard count (1 when the workspace is gone: its credits stay on shard 0). The workspace
# service answers it; funding does not read workspace documents itself.
ShardCount = Callable[[str], Awaitable[int]]


class Funding:
    def __init__(self, purchases: Purchases, wallets: ShardedWallets, shard_count: ShardCount) -> None:
        self.purchases = purchases
        self._wallets = wallets
        self.shard_count = shard_count

    async def purchase(
        self,
        provider: str,
        payment_id: str,
        wallet_id: str,
        credits: int,
        paid_minor: int,
        currency: str,
        expires_at: dt.datetime | None = None,
    ) -> PaymentOutcome:
        """Grant a payment's credits once; for a workspace, on shard 0 and then spread over the shards.

        `expires_at`: when the credits expire (a subscription's allotment), None for credits that don't.
        """
        target = ledger_wallet(wallet_id)
        outcome = await self.purchases.purchase(
            provider, payment_id, target, credits, paid_minor, currency, expires_at=expires_at
        )
        workspace_id = workspace_of(outcome.wallet_id or target)
        if workspace_id is not None:  # also on a replay: finishes a spread a crash interrupted
            await self._spread(workspace_id, f"{provider}:{payment_id}", credits)
        return outcome

    async def claw_back(
        self,
        provider: str,
        payment_id: str,
        clawback_id: str,
        claim: str,
        minor: int,
        wallet_hint: str | None = None,
    ) -> PaymentOutcome:
        """Purchases.claw_back, after gathering a workspace's credits into its shard 0."""
        doc = await self.purchases.payment(provider, payment_id)
        if doc is not None and doc.get("state") == "granted" and minor > 0:
            seen = any(c.get("id") == clawback_id for c in doc.get("clawbacks", []))
            workspace_id = workspace_of(doc.get("wallet_id"))
            if workspace_id is not None and not seen:
                await self._gather(workspace_id, clawback_id, _due(doc, claim, minor))
        hint = ledger_wallet(wallet_hint) if wallet_hint else None
        return await self.purchases.claw_back(provider, payment_id, clawback_id, claim, minor, wallet_id=hint)

    async def _spread(self, workspace_id: str, ref: str, credits: int) -> None:
        count = await self.shard_count(workspace_id)
        base = workspace_wallet_base(workspace_id)
        source = shard_wallet(base, 0)
        moved = 0
        for k, part in enumerate(split(credits, count)):
            if k > 0 and part > 0:
                transfer_id = stable_id("spread", ref, str(k))
                moved += await self._wallets.transfer(source, shard_wallet(base, k), part, transfer_id)
        log.info("payment spread over shards", extra={"wallet_base": base, "payment": ref, "moved": moved})

    async def _gather(self, workspace_id: str, clawback_id: str, due: int) -> None:
        """Bring up to `due` of the workspace's credits into shard 0, the richest shards first."""
        if due <= 0:
            return
        count = await self.shard_count(workspace_id)
        base = workspace_wallet_base(workspace_id)
        wallets = self._wallets
        shards = await wallets.balances(base, count)
        missing = due - shards[0].available
        for k in sorted(range(1, count), key=lambda k: -shards[k].available):
            take = min(shards[k].available, missing)
            if take <= 0:
                break
            transfer_id = stable_id("gather", clawback_id, str(k))
            missing -= await wallets.transfer(shard_wallet(base, k), shard_wallet(base, 0), take, transfer_id)
        log.info("credits gathered for a clawback", extra={"wallet_base": base, "clawback": clawback_id})


def _due(doc: dict[str, Any], claim: str, minor: int) -> int:
    """What a new clawback `claim` of `minor` will take from a granted payment (as Purchases counts)."""
    claims: dict[str, int] = {}
    for seen in doc.get("clawbacks", []):
        claims[seen["claim"]] = max(claims.get(seen["claim"], 0), int(seen["minor"]))
    claims[claim] = max(claims.get(claim, 0), minor)
    return share(int(doc["credits"]), sum(claims.values()), int(doc["paid_minor"])) - int(
        doc.get("clawed", 0)
    )
