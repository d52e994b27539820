"""Finishing a hold survives a transient Firestore failure (found by the money simulator, issue 18): a
settle whose commit was applied but whose answer was lost is retried and charges once; one that failed
before committing is retried and applied; a failure that does not go away is raised after a few tries."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core.exceptions import DeadlineExceeded, ServiceUnavailable
from google.cloud import firestore

from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Hold
from shared.spending import payer as payer_module
from shared.spending.payer import Payer
from tests.support.ledger import check_invariants, ledger_settings, new_wallet

pytestmark = pytest.mark.anyio


class FlakyLedger(Ledger):
    """The real ledger, whose first `fail` settles (or voids) fail: after applying (`lost`) or before."""

    def __init__(self, db: firestore.AsyncClient, fail: int, lost: bool) -> None:
        super().__init__(db, ledger_settings(hold_ttl_s=900))
        self.fail, self.lost, self.calls = fail, lost, 0

    async def settle(self, wallet_id: str, hold_id: str, amount: int) -> Hold:
        self.calls += 1
        if self.calls <= self.fail:
            if self.lost:
                await super().settle(wallet_id, hold_id, amount)
                raise DeadlineExceeded("the commit's answer was lost")
            raise ServiceUnavailable("firestore is unavailable")
        return await super().settle(wallet_id, hold_id, amount)


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    async def instant(_: float) -> None:
        return None

    monkeypatch.setattr(payer_module, "pause", instant)


async def funded(db: firestore.AsyncClient, ledger: Ledger) -> str:
    wallet = new_wallet()
    await ledger.grant(wallet, 1_000, f"test:{wallet}")
    await ledger.reserve(wallet, "h1", want=300, minimum=300)
    return wallet


@pytest.mark.parametrize("lost", [True, False])
async def test_a_transient_failure_is_retried_and_charges_once(db: firestore.AsyncClient, lost: bool) -> None:
    ledger = FlakyLedger(db, fail=2, lost=lost)
    wallet = await funded(db, ledger)
    hold = await Payer(ledger).settle(wallet, "h1", 120)
    assert (hold.state, hold.charged) == ("settled", 120) and ledger.calls == 3
    state: dict[str, Any] = await check_invariants(db, wallet)
    assert (state["available"], state["reserved"], state["settled"]) == (880, 0, 120)


async def test_a_failure_that_stays_is_raised(db: firestore.AsyncClient) -> None:
    ledger = FlakyLedger(db, fail=10, lost=False)
    wallet = await funded(db, ledger)
    with pytest.raises(ServiceUnavailable):
        await Payer(ledger).settle(wallet, "h1", 120)
    assert ledger.calls == payer_module.FINISH_ATTEMPTS
    state = await check_invariants(db, wallet)
    assert (state["reserved"], state["settled"]) == (300, 0)  # the hold is left for the reconciler
