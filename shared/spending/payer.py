"""Who pays for a call: the caller's own wallet, or their workspace's sharded wallet.

Every metered feature (chat, jobs, speech to text) reserves, settles and voids through a Payer instead of
the ledger directly. The wallet id says which: a personal wallet is one ledger wallet; a workspace wallet
is `ws-{id}` and its holds live on one of its shards `ws-{id}~{k}` (shared/ledger/shards.py). A
workspace reservation goes through WorkspaceSpending, which also counts it against the member's monthly
limit. Settle and void take the hold's own wallet id (`Hold.wallet_id`, the shard for a workspace), so
they go straight to the right document.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from google.api_core.exceptions import Aborted, DeadlineExceeded, InternalServerError, ServiceUnavailable

from shared.errors import AppError
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Hold
from shared.ledger.wallet_ids import shard_of, workspace_of
from shared.spending.members import WorkspaceSpending

log = logging.getLogger("credits.payer")


class Payer:
    def __init__(self, ledger: Ledger, workspaces: WorkspaceSpending | None = None) -> None:
        self.ledger = ledger
        self.workspaces = workspaces

    async def reserve(
        self,
        wallet_id: str,
        hold_id: str,
        want: int,
        minimum: int,
        ttl_s: int | None = None,
        ref: str | None = None,
        *,
        spender: str | None = None,
        pinned: bool = False,
    ) -> Hold:
        """Hold up to `want` credits (at least `minimum`). `spender` (the member's user id) is required on a
        workspace wallet: the reservation counts against their monthly limit there. `pinned`: the hold id
        is one that concurrent callers may reserve at once (a fixed id); on a workspace wallet it then
        always lives on one shard (ShardedWallets.reserve)."""
        workspace = workspace_of(wallet_id)
        if workspace is None:
            return await self.ledger.reserve(
                wallet_id, hold_id, want=want, minimum=minimum, ttl_s=ttl_s, ref=ref
            )
        return await self._spending().reserve(
            workspace, self._spender(spender), hold_id, want, minimum, ttl_s, ref, pinned=pinned
        )

    async def settle(self, wallet_id: str, hold_id: str, amount: int) -> Hold:
        """Charge the hold; retried on a transient Firestore failure (see `_finishing`)."""

        async def once() -> Hold:
            workspace = workspace_of(wallet_id)
            if workspace is None:
                return await self.ledger.settle(wallet_id, hold_id, amount)
            return await self._spending().settle(workspace, hold_id, amount, shard_of(wallet_id))

        return await _finishing(once, hold_id)

    async def void(self, wallet_id: str, hold_id: str) -> Hold:
        async def once() -> Hold:
            workspace = workspace_of(wallet_id)
            if workspace is None:
                return await self.ledger.void(wallet_id, hold_id)
            return await self._spending().void(workspace, hold_id, shard_of(wallet_id))

        return await _finishing(once, hold_id)

    async def extend(self, wallet_id: str, hold_id: str, ttl_s: int) -> Hold:
        """Keep a live spend's hold from expiring for `ttl_s` more seconds (a heartbeat). `wallet_id` is
        the hold's own wallet (`Hold.wallet_id`: the shard for a workspace)."""
        return await self.ledger.extend(wallet_id, hold_id, ttl_s)

    def _spending(self) -> WorkspaceSpending:
        if self.workspaces is None:
            raise AppError(
                "Workspace wallets are not available on this instance.", code="workspaces_unavailable"
            )
        return self.workspaces

    @staticmethod
    def _spender(spender: str | None) -> str:
        if not spender:
            raise AppError("A workspace reservation needs the spending member.", code="spender_missing")
        return spender


# Failures after which the commit may or may not have been applied (the answer was lost) or was not made.
TRANSIENT = (ServiceUnavailable, DeadlineExceeded, InternalServerError, Aborted)
FINISH_ATTEMPTS = 4


async def pause(seconds: float) -> None:
    """The wait between two tries of a finish. A module function so that the money simulator, whose time
    is its own clock's, can make it a mere yield (tests/sim/run.py); everywhere else it sleeps."""
    await asyncio.sleep(seconds)


async def _finishing(once: Callable[[], Awaitable[Hold]], hold_id: str) -> Hold:
    """Finish a hold, retrying a transient failure a few times with a short jittered wait.

    Safe because the ledger finishes a hold once: a retry of a settle whose commit was applied (its
    answer lost) finds the hold finished and returns it unchanged, charged once. Without the retry the
    caller saw an error after the money moved (a settled hold with no usage record), or, when nothing
    was applied, left the hold for the reconciler to release (output delivered, nothing charged).
    Found by the money simulator (issue 18)."""
    for attempt in range(FINISH_ATTEMPTS):
        try:
            return await once()
        except TRANSIENT:
            if attempt == FINISH_ATTEMPTS - 1:
                raise
            log.warning("hold finish retried", extra={"hold_id": hold_id, "attempt": attempt + 1})
            await pause(random.uniform(0.05, 0.2) * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover
