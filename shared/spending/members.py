"""Members spending the workspace wallet, each within an optional monthly limit set by an admin.

Per member and UTC month a counter document `workspaces/{id}/members/{user}/months/{yyyy-mm}` holds
`used`: the credits held by the member's open reservations plus what their finished ones charged. A
reservation first counts its credits there (in one transaction with its record `workspaces/{id}/holds/
{hold}`, so a replay counts nothing twice), clamped to the room under the limit, then reserves on the
sharded wallet; a settle or void corrects the count by what was really charged. Counter documents are
per member, so members never contend with each other; only the wallet shards are shared.

A crash between the count and the wallet (or after the wallet settles) leaves the counter too high,
never too low: a member is at worst refused early, never allowed past the limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from google.cloud import firestore

from shared.clock import now
from shared.errors import AppError
from shared.ledger.schemas import Hold
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.workspaces.errors import MemberLimitExceeded, WorkspaceNotFound
from shared.workspaces.repository import WorkspaceRepository


def month_of(at: dt.datetime) -> str:
    return at.strftime("%Y-%m")


class WorkspaceSpending:
    def __init__(
        self,
        db: firestore.AsyncClient,
        wallets: ShardedWallets,
        clock: Callable[[], dt.datetime] = now,
    ) -> None:
        self.repo = WorkspaceRepository(db)
        self.wallets = wallets
        self.clock = clock

    def _counter_ref(self, workspace_id: str, user_id: str, month: str) -> Any:
        return self.repo.month_ref(workspace_id, user_id, month)

    def _hold_ref(self, workspace_id: str, hold_id: str) -> Any:
        return self.repo.spend_ref(workspace_id, hold_id)

    async def _shards(self, workspace_id: str) -> int:
        doc = await self.repo.get(self.repo.workspace_ref(workspace_id))
        if doc is None:
            raise WorkspaceNotFound()
        return int(doc["shards"])

    async def used(self, workspace_id: str, user_id: str) -> int:
        doc = await self.repo.get(self._counter_ref(workspace_id, user_id, month_of(self.clock())))
        return int((doc or {}).get("used", 0))

    async def reserve(
        self,
        workspace_id: str,
        user_id: str,
        hold_id: str,
        want: int,
        minimum: int,
        ttl_s: int | None = None,
        ref: str | None = None,
        *,
        pinned: bool = False,
    ) -> Hold:
        """Count the credits against the member's limit, then hold them on the workspace wallet (`pinned`:
        see ShardedWallets.reserve).

        Raises WorkspaceNotFound for a non-member, PaymentDebt (402 payment_debt) while the workspace owes
        more credits than all its shards have (after a refund, a dispute or a late settle; ShardedWallets
        pays a debt from every shard first),
        MemberLimitExceeded (402 member_limit_exceeded) when fewer than `minimum` credits are left under
        the limit, and the ledger's errors otherwise.
        """
        base = workspace_wallet_base(workspace_id)
        member = await self.repo.get(self.repo.member_ref(workspace_id, user_id))
        if member is None:
            raise WorkspaceNotFound()
        shards = await self._shards(workspace_id)
        limit = member.get("monthly_limit")
        month = month_of(self.clock())
        counter_ref = self._counter_ref(workspace_id, user_id, month)
        hold_ref = self._hold_ref(workspace_id, hold_id)

        @firestore.async_transactional
        async def count(tx: Any) -> int:
            counter, record = await self.repo.read(tx, counter_ref, hold_ref)
            if record is not None:
                return int(record["counted"])
            used = int((counter or {}).get("used", 0))
            counted = want
            if limit is not None:
                if limit - used < minimum:
                    raise MemberLimitExceeded(int(limit), used)
                counted = min(want, int(limit) - used)
            tx.set(counter_ref, {"used": used + counted, "updated_at": self.clock()})
            tx.set(hold_ref, {"user_id": user_id, "month": month, "counted": counted, "state": "pending"})
            return counted

        counted = await count(self.repo.db.transaction())
        try:
            return await self.wallets.reserve(
                base, shards, hold_id, counted, min(minimum, counted), ttl_s, ref, pinned=pinned
            )
        except AppError:
            await self._uncount(workspace_id, hold_id, 0, "refused")
            raise

    async def settle(
        self, workspace_id: str, hold_id: str, amount: int, wallet_id: str | None = None
    ) -> Hold:
        base = workspace_wallet_base(workspace_id)
        hold = await self.wallets.settle(base, await self._shards(workspace_id), hold_id, amount, wallet_id)
        await self._uncount(workspace_id, hold_id, hold.charged, hold.state)
        return hold

    async def void(self, workspace_id: str, hold_id: str, wallet_id: str | None = None) -> Hold:
        base = workspace_wallet_base(workspace_id)
        hold = await self.wallets.void(base, await self._shards(workspace_id), hold_id, wallet_id)
        await self._uncount(workspace_id, hold_id, hold.charged, hold.state)
        return hold

    async def _uncount(self, workspace_id: str, hold_id: str, charged: int, state: str) -> None:
        """Replace what the reservation counted by what it charged, once."""
        hold_ref = self._hold_ref(workspace_id, hold_id)

        @firestore.async_transactional
        async def body(tx: Any) -> None:
            (record,) = await self.repo.read(tx, hold_ref)
            if record is None or record["state"] != "pending":
                return
            counter_ref = self._counter_ref(workspace_id, record["user_id"], record["month"])
            (counter,) = await self.repo.read(tx, counter_ref)
            used = int((counter or {}).get("used", 0)) - int(record["counted"]) + charged
            tx.set(counter_ref, {"used": max(used, 0), "updated_at": self.clock()})
            if state == "refused":
                tx.delete(hold_ref)
            else:
                tx.update(hold_ref, {"state": state, "charged": charged})

        await body(self.repo.db.transaction())
