"""What a chat call takes before the provider is called, and gives back or spends after it.

Three things, in this order: the prompt's tokens from the tokens-per-minute bucket, the worst case
from the budgets (which may grant less), and a credit hold for what the budget granted. A call ends
through exactly one of `release()` (nothing was produced: everything goes back) or `settle()`
(charge what was used, count it against the budget, correct the bucket by the real token count).
A failure while taking gives back what was already taken, shielded from cancellation.

With a LeaseBook (chat calls only; shared/spending/leases.py) the credits come from the instance's lease
for the wallet, in memory, when it can admit the call; else from a per-call hold as above.
"""

from __future__ import annotations

import uuid

import anyio

from shared.auth.schemas import Principal
from shared.ledger.schemas import Hold
from shared.limits.budgets.schemas import Admission as BudgetAdmission
from shared.limits.budgets.service import Budgets
from shared.limits.ratelimit.service import RateLimits
from shared.spending.lease import LeasedCall
from shared.spending.leases import LeaseBook
from shared.spending.payer import Payer
from shared.telemetry import tracing


class ChatAdmission:
    def __init__(
        self,
        principal: Principal,
        payer: Payer,
        rate_limits: RateLimits | None,
        budgets: Budgets | None,
        leases: LeaseBook | None = None,
    ) -> None:
        self.principal = principal
        self.hold_id = uuid.uuid4().hex
        self._payer = payer
        self._rate_limits = rate_limits
        self._budgets = budgets
        self._tokens = 0
        self._budget: BudgetAdmission | None = None
        self._hold: Hold | None = None
        self._leases = leases
        self.leased: LeasedCall | None = None  # the credits came from a lease, not a hold of its own

    @classmethod
    async def admit(
        cls,
        principal: Principal,
        *,
        payer: Payer,
        rate_limits: RateLimits | None,
        budgets: Budgets | None,
        tokens: int,
        want: int,
        minimum: int,
        ref: str,
        leases: LeaseBook | None = None,
    ) -> ChatAdmission:
        """Take `tokens` from the bucket and hold up to `want` credits (at least `minimum`).

        Raises (rate limited, over budget, insufficient credits) with nothing left taken."""
        admission = cls(principal, payer, rate_limits, budgets, leases)
        try:
            with tracing.span("admission", tokens=tokens, want=want):
                await admission._take(tokens, want, minimum, ref)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await admission.release()
            raise
        return admission

    async def _take(self, tokens: int, want: int, minimum: int, ref: str) -> None:
        if self._rate_limits is not None:
            await self._rate_limits.admit_tokens(self.principal, tokens)
            self._tokens = tokens
        if self._budgets is not None:
            self._budget = await self._budgets.admit(
                self._budgets.for_user(self.principal), want, minimum=minimum
            )
            want = self._budget.amount
        if self._leases is not None:
            self.leased = await self._leases.take(self.principal.wallet_id, self.principal.user_id, want)
            if self.leased is not None:
                return
        self._hold = await self._payer.reserve(
            self.principal.wallet_id,
            self.hold_id,
            want=want,
            minimum=minimum,
            ref=ref,
            spender=self.principal.user_id,
        )

    @property
    def amount(self) -> int:
        """The credits held: the most the call may cost."""
        if self.leased is not None:
            return self.leased.amount
        return self._hold.amount if self._hold is not None else 0

    @property
    def wallet_id(self) -> str:
        """The wallet holding the credits: the caller's own, or a shard of their workspace's wallet."""
        if self.leased is not None:
            return self.leased.wallet_id
        return self._hold.wallet_id if self._hold is not None else ""

    async def keep_alive(self, ttl_s: int) -> None:
        """A heartbeat while the call streams: its hold expires no sooner than `ttl_s` from now. A leased
        call has no hold of its own: the lease's flush keeps the lease alive while calls are in flight."""
        if self._hold is not None:
            await self._payer.extend(self._hold.wallet_id, self.hold_id, ttl_s)

    async def release(self) -> None:
        """Give back everything taken: the call produced nothing, so nothing is charged."""
        if self.leased is not None:
            self.leased.release()
        if self._hold is not None:
            await self._payer.void(self._hold.wallet_id, self.hold_id)
        if self._budget is not None and self._budgets is not None:
            await self._budgets.release(self._budget)
        if self._tokens and self._rate_limits is not None:
            await self._rate_limits.record_tokens(self.principal, -self._tokens)

    async def settle(self, cost: int, tokens_used: int) -> int:
        """Charge `cost` (the ledger charges at most the hold) and return what was charged; count it
        against the budget and correct the bucket by `tokens_used` minus the tokens taken."""
        charged = 0
        if self.leased is not None:
            charged = self.leased.settle(cost)
        elif self._hold is not None:
            charged = (await self._payer.settle(self._hold.wallet_id, self.hold_id, cost)).charged
        if self._budget is not None and self._budgets is not None:
            await self._budgets.settle(self._budget, charged)
        if self._tokens and self._rate_limits is not None:
            await self._rate_limits.record_tokens(self.principal, tokens_used - self._tokens)
        return charged
