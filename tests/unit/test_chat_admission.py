"""A chat call's admission: tokens, budget and hold taken together, given back or spent together."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.auth.schemas import Principal
from shared.chat.admission import ChatAdmission
from shared.errors import AppError
from shared.ledger.schemas import Hold

pytestmark = pytest.mark.anyio

PRINCIPAL = Principal(user_id="u1", wallet_id="w1", auth="jwt")


@dataclass
class Log:
    events: list[tuple[Any, ...]] = field(default_factory=list)


class FakeRateLimits:
    def __init__(self, log: Log) -> None:
        self.log = log

    async def admit_tokens(self, principal: Principal, estimate: int) -> None:
        self.log.events.append(("tokens", estimate))

    async def record_tokens(self, principal: Principal, extra: int) -> None:
        self.log.events.append(("tokens", extra))


@dataclass
class FakeBudgetAdmission:
    amount: int


class FakeBudgets:
    def __init__(self, log: Log, grant: int | None = None) -> None:
        self.log = log
        self.grant = grant

    def for_user(self, principal: Principal) -> str:
        return principal.user_id

    async def admit(self, budget: str, amount: int, minimum: int | None = None) -> FakeBudgetAdmission:
        granted = amount if self.grant is None else self.grant
        self.log.events.append(("budget", granted))
        return FakeBudgetAdmission(granted)

    async def settle(self, admission: FakeBudgetAdmission, charged: int) -> None:
        self.log.events.append(("budget settled", charged))

    async def release(self, admission: FakeBudgetAdmission) -> None:
        self.log.events.append(("budget released", admission.amount))


class FakePayer:
    def __init__(self, log: Log, fail: bool = False) -> None:
        self.log = log
        self.fail = fail

    def _hold(self, hold_id: str, amount: int, charged: int = 0) -> Hold:
        at = dt.datetime.now(dt.UTC)
        return Hold(
            id=hold_id, wallet_id="w1~0", amount=amount, state="pending", charged=charged, expires_at=at
        )

    async def reserve(self, wallet_id: str, hold_id: str, want: int, minimum: int, **_: Any) -> Hold:
        if self.fail:
            raise AppError("Not enough credits.", status=402)
        self.log.events.append(("hold", want, minimum))
        return self._hold(hold_id, want)

    async def settle(self, wallet_id: str, hold_id: str, amount: int) -> Hold:
        self.log.events.append(("settled", wallet_id, amount))
        return self._hold(hold_id, 100, min(amount, 100))

    async def void(self, wallet_id: str, hold_id: str) -> Hold:
        self.log.events.append(("voided", wallet_id))
        return self._hold(hold_id, 100)


async def admit(log: Log, payer: FakePayer, budgets: FakeBudgets) -> ChatAdmission:
    return await ChatAdmission.admit(
        PRINCIPAL,
        payer=payer,  # type: ignore[arg-type]
        rate_limits=FakeRateLimits(log),  # type: ignore[arg-type]
        budgets=budgets,  # type: ignore[arg-type]
        tokens=40,
        want=100,
        minimum=5,
        ref="chat:r1",
    )


async def test_the_hold_is_what_the_budget_granted() -> None:
    log = Log()
    admission = await admit(log, FakePayer(log), FakeBudgets(log, grant=60))
    assert log.events == [("tokens", 40), ("budget", 60), ("hold", 60, 5)]
    assert (admission.amount, admission.wallet_id) == (60, "w1~0")


async def test_release_gives_everything_back() -> None:
    log = Log()
    admission = await admit(log, FakePayer(log), FakeBudgets(log))
    log.events.clear()
    await admission.release()
    assert log.events == [("voided", "w1~0"), ("budget released", 100), ("tokens", -40)]


async def test_settle_charges_and_corrects_the_bucket_by_the_real_tokens() -> None:
    log = Log()
    admission = await admit(log, FakePayer(log), FakeBudgets(log))
    log.events.clear()
    assert await admission.settle(cost=130, tokens_used=70) == 100  # the ledger charges at most the hold
    assert log.events == [("settled", "w1~0", 130), ("budget settled", 100), ("tokens", 30)]


async def test_a_refused_hold_gives_back_tokens_and_budget() -> None:
    log = Log()
    with pytest.raises(AppError):
        await admit(log, FakePayer(log, fail=True), FakeBudgets(log))
    assert log.events == [("tokens", 40), ("budget", 100), ("budget released", 100), ("tokens", -40)]
