"""Faults injected where our code meets Firestore: at a transaction's commit.

Every ledger write is one Firestore transaction, so a commit is where the outside world can fail it:
- `abort`: contention; the transaction is rolled back and retried by the client, as Firestore does;
- `unavailable`: the commit fails before it reaches Firestore; nothing is written, the caller sees an
  error (and the platform or the client retries later);
- `lost`: the commit is applied but its answer is lost (a deadline); the caller sees an error although
  the write happened, and its retry must change nothing.

The plan draws from its own seeded generator, so a seed replays the same faults at the same commits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from google.api_core.exceptions import Aborted, DeadlineExceeded, GoogleAPICallError, ServiceUnavailable
from google.cloud import firestore
from google.cloud.firestore_v1.async_transaction import AsyncTransaction

KINDS = ("abort", "unavailable", "lost")
WEIGHTS = (4, 3, 3)
# What a caller sees when a commit fails outside our code (an injected or a real one).
CALLER_ERRORS: tuple[type[Exception], ...] = (GoogleAPICallError,)


@dataclass
class FaultPlan:
    """Which commits fail, and how; `rate` is the chance that one commit meets a fault."""

    rng: random.Random
    rate: float
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    current: list[str] = field(default_factory=list)  # the faults met since `start`
    enabled: bool = True

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def start(self) -> None:
        """A new operation begins: forget the faults the last one met."""
        self.current = []

    def draw(self) -> str | None:
        if not self.enabled or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choices(KINDS, WEIGHTS)[0]
        self.injected[kind] += 1
        self.current.append(kind)
        return kind

    def committed_then_lost(self) -> bool:
        """Whether the last commit of this operation was applied although its caller saw an error."""
        return bool(self.current) and self.current[-1] == "lost"


class FaultyTransaction(AsyncTransaction):  # type: ignore[misc]
    def __init__(self, client: Any, plan: FaultPlan, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._plan = plan
        self._answered = True

    async def _commit(self) -> list[Any]:
        fault = self._plan.draw()
        if fault == "abort":
            await super()._rollback()  # free the documents, as an aborted transaction does
            raise Aborted("simulated contention")
        if fault == "unavailable":
            raise ServiceUnavailable("simulated: the commit did not reach Firestore")
        results: list[Any] = await super()._commit()
        if fault == "lost":
            self._answered = False
            raise DeadlineExceeded("simulated: the commit was applied, its answer lost")
        return results

    async def _rollback(self) -> None:
        if not self._answered:  # nothing left to roll back: the commit went through
            self._answered = True
            return
        await super()._rollback()


class FaultyClient(firestore.AsyncClient):  # type: ignore[misc]
    """A real Firestore client whose transactions meet the plan's faults at commit."""

    def __init__(self, plan: FaultPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def transaction(self, **kwargs: Any) -> FaultyTransaction:
        return FaultyTransaction(self, self.plan, **kwargs)
