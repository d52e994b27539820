"""Faults injected where our code meets Firestore: at a transaction's commit.

Every ledger write is one Firestore transaction, so a commit is where the outside world can fail it:
- `abort`: contention; the transaction is rolled back and retried by the client, as Firestore does;
- `unavailable`: the commit fails before it reaches Firestore; nothing is written, the caller sees an
  error (and the platform or the client retries later);
- `lost`: the commit is applied but its answer is lost (a deadline); the caller sees an error although
  the write happened, and its retry must change nothing;
- `crash` (only where an operation asks for it, `crashing`): the process dies at the commit, before it
  or right after it; no handler of ours runs after that (no release, no answer), so the operation is
  abandoned between two of its writes and only the platform's retry finishes it.

The outside systems other than Firestore meet faults here too: `provider_down` (a provider's API does
not answer in time, a job step's provider fails) and `task_lost` (a Cloud Task never delivered).

Which commit meets a fault is decided by the seed, the operation (the how-many-th `start`) and what the
commit writes, not by the order commits arrive in: concurrent sweeps meet the same faults in any order, and
a seed replays the same faults.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from google.api_core.exceptions import Aborted, DeadlineExceeded, GoogleAPICallError, ServiceUnavailable
from google.cloud import firestore
from google.cloud.firestore_v1.async_transaction import AsyncTransaction

KINDS = ("abort", "unavailable", "lost")
CRASH = "crash"
PROVIDER_DOWN = "provider_down"
TASK_LOST = "task_lost"
# Ids that differ from run to run (the run's tag, random transfer ids, digests of them): left out of what
# decides a fault, so that a seed replays.
RANDOM_PART = re.compile(r"[0-9a-f]{8,}")
WEIGHTS = (4, 3, 3)
# What a caller sees when a commit fails outside our code (an injected or a real one).
CALLER_ERRORS: tuple[type[Exception], ...] = (GoogleAPICallError,)


@dataclass
class FaultPlan:
    """Which commits fail, and how; `rate` is the chance that one commit meets a fault."""

    seed: int
    rate: float
    injected: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((*KINDS, CRASH, PROVIDER_DOWN, TASK_LOST), 0)
    )
    current: list[str] = field(default_factory=list)  # the faults met since `start`
    enabled: bool = True
    crashing: bool = False  # the current operation may crash at a commit
    starts: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # commits of one operation, by what they write

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def start(self) -> None:
        """A new operation begins: forget the faults the last one met."""
        self.current, self.seen = [], {}
        self.starts += 1

    def draw(self, writes: str) -> str | None:
        if not self.enabled:
            return None
        nth = self.seen[writes] = self.seen.get(writes, 0) + 1
        rng = random.Random(f"{self.seed}:{self.starts}:{writes}:{nth}")
        if rng.random() >= self.rate:
            return None
        kind = rng.choices(KINDS, WEIGHTS)[0]
        self.injected[kind] += 1
        self.current.append(kind)
        return kind

    def crash(self, writes: str) -> str | None:
        """Whether the process dies at this commit: "before" or "after" it is applied, or None."""
        if not (self.enabled and self.crashing):
            return None
        nth = self.seen.get(writes, 0)
        rng = random.Random(f"{self.seed}:{self.starts}:{writes}:{nth}:crash")
        if rng.random() >= self.rate / 2:
            return None
        self.injected[CRASH] += 1
        self.current.append(CRASH)
        return rng.choice(("before", "after"))

    def provider_down(self, call: str) -> bool:
        """Whether this call to a provider's API times out (twice the commit fault rate)."""
        if not self.enabled:
            return False
        key = f"provider:{call}"
        nth = self.seen[key] = self.seen.get(key, 0) + 1
        if random.Random(f"{self.seed}:{self.starts}:{key}:{nth}").random() >= self.rate * 2:
            return False
        self.injected[PROVIDER_DOWN] += 1
        self.current.append(PROVIDER_DOWN)
        return True

    def lose(self, what: str) -> bool:
        """Whether a Cloud Task is lost as it is created: never delivered (the commit fault rate)."""
        if not self.enabled:
            return False
        key = f"lose:{what}"
        nth = self.seen[key] = self.seen.get(key, 0) + 1
        if random.Random(f"{self.seed}:{self.starts}:{key}:{nth}").random() >= self.rate:
            return False
        self.injected[TASK_LOST] += 1
        self.current.append(TASK_LOST)
        return True

    def committed_then_lost(self) -> bool:
        """Whether the last commit of this operation was applied although its caller saw an error."""
        return bool(self.current) and self.current[-1] == "lost"


class Crash(BaseException):
    """The process died: no `except Exception` of ours sees it, as none would run."""


class FaultyTransaction(AsyncTransaction):  # type: ignore[misc]
    def __init__(self, client: Any, plan: FaultPlan, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._plan = plan
        self._answered = True

    async def _commit(self) -> list[Any]:
        names = RANDOM_PART.sub("#", " ".join(sorted(written(w) for w in self._write_pbs)))
        crash = self._plan.crash(names)
        if crash == "before":
            raise Crash("simulated: the process died before this commit")
        if crash == "after":
            await super()._commit()
            self._answered = False
            raise Crash("simulated: the process died right after this commit")
        fault = self._plan.draw(names)
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


def written(write: Any) -> str:
    """The document a commit's write changes (a set/update, or a delete)."""
    return str(write.update.name or write.delete)
