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

import asyncio
import contextlib
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
LOCK_TIMEOUT_S = 2.0  # the emulator's: a commit waiting on another transaction's lock is aborted after it
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


@dataclass
class Live:
    """A transaction open at the emulator: the documents it has read (its shared locks), whether it read
    through a query (then its locks are not all known), and what its commit, once sent, writes."""

    reads: set[str] = field(default_factory=set)
    queried: bool = False
    committing: set[str] | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Locks:
    """The emulator's locks as the client can know them, to cut its deadlocks short.

    The emulator locks what a transaction reads until it ends, and a commit waits for every other
    transaction's lock on what it writes. Two transactions that read the same document and both commit
    (two instances taking one delivery at the same moment) wait for each other until the emulator's
    lock timeout, two seconds, aborts the first; that wait was most of a run's time (a racing operation
    took 2-4 s, every other one ~10 ms). Production Firestore (wound-wait) aborts one of them at once.
    So when a commit would close such a cycle, the transaction sending it is rolled back (freeing the
    other's commit) and sees `Aborted`, which the client retries, as it would after the emulator's timeout:
    the same outcome (one commits, the other retries on what it wrote), two seconds sooner. Only a
    certain cycle counts: both commits sent, each writing what the other read by document (a transaction
    that read through a query is never taken for one, and waits for the emulator as before)."""

    def __init__(self) -> None:
        self.live: dict[bytes, Live] = {}
        self.cut = 0  # deadlocks cut short

    def read(self, request: Any) -> None:
        tx = request.get("transaction") if isinstance(request, dict) else None
        if tx:
            self.live.setdefault(tx, Live()).reads.update(request.get("documents") or ())

    def queried(self, request: Any) -> None:
        tx = request.get("transaction") if isinstance(request, dict) else None
        if tx:
            self.live.setdefault(tx, Live()).queried = True

    def deadlocked(self, tx: bytes, writes: set[str]) -> Live | None:
        """The transaction whose commit waits on `tx` while a commit of `writes` by `tx` would wait on
        it, if there is one."""
        mine = self.live.get(tx)
        if mine is None or mine.queried:
            return None
        for other_id, other in self.live.items():
            if other_id == tx or other.committing is None or other.queried:
                continue
            if other.committing & mine.reads and writes & other.reads:
                return other
        return None

    def end(self, tx: bytes | None) -> None:
        if tx is not None:
            ended = self.live.pop(tx, None)
            if ended is not None:
                ended.ended.set()


class FaultyTransaction(AsyncTransaction):  # type: ignore[misc]
    def __init__(self, client: Any, plan: FaultPlan, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._plan = plan
        self._answered = True
        self._locks: Locks = client.locks

    async def _sent(self) -> list[Any]:
        """The commit itself, unless it closes a deadlock (see Locks): then rolled back and `Aborted`."""
        tx = self._id
        writes = {written(w) for w in self._write_pbs}
        waited_on = self._locks.deadlocked(tx, writes)
        if waited_on is not None:
            # Rolled back, this one frees the other's commit; its retry starts once that commit is
            # through (as a transaction wounded in production retries behind the older one), not at
            # once, which would take the read locks again and starve the other until the timeout.
            self._locks.cut += 1
            await self._rollback_now()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waited_on.ended.wait(), LOCK_TIMEOUT_S)
            raise Aborted("simulated: the emulator's deadlock, cut short (production aborts one at once)")
        live = self._locks.live.setdefault(tx, Live())
        live.committing = writes
        try:
            results: list[Any] = await super()._commit()
        finally:
            self._locks.end(tx)
        return results

    async def _rollback_now(self) -> None:
        tx = self._id
        try:
            await super()._rollback()
        finally:
            self._locks.end(tx)

    async def _commit(self) -> list[Any]:
        names = " ".join(sorted(RANDOM_PART.sub("#", written(w)) for w in self._write_pbs))  # order too
        crash = self._plan.crash(names)
        if crash == "before":
            raise Crash("simulated: the process died before this commit")
        if crash == "after":
            await self._sent()
            self._answered = False
            raise Crash("simulated: the process died right after this commit")
        fault = self._plan.draw(names)
        if fault == "abort":
            await self._rollback_now()  # free the documents, as an aborted transaction does
            raise Aborted("simulated contention")
        if fault == "unavailable":
            raise ServiceUnavailable("simulated: the commit did not reach Firestore")
        results = await self._sent()
        if fault == "lost":
            self._answered = False
            raise DeadlineExceeded("simulated: the commit was applied, its answer lost")
        return results

    async def _rollback(self) -> None:
        if not self._answered:  # nothing left to roll back: the commit went through
            self._answered = True
            return
        if not self.in_progress:  # rolled back already, where its commit was aborted here
            return
        await self._rollback_now()


class FaultyClient(firestore.AsyncClient):  # type: ignore[misc]
    """A real Firestore client whose transactions meet the plan's faults at commit. Every read in a
    transaction and every write it sends are noted (for `Locks` and for the auditor's `take_written`);
    it is the only client of the run, so nothing writes the run's documents unnoted."""

    def __init__(self, plan: FaultPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.locks = Locks()
        self.written: set[str] = set()  # every document a commit was sent for, until `take_written`
        self._watched = False

    def bulk_writer(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: a BulkWriter (and so recursive_delete) writes through a sync copy of the client,
        unnoted, and the per-step audit relies on every write being noted (tests/sim/audit.py)."""
        raise NotImplementedError("the simulator's client notes commits only; use a batch or a transaction")

    def take_written(self) -> set[str]:
        """The paths of the documents written (or maybe written) since the last call."""
        written_now, self.written = self.written, set()
        return written_now

    @property
    def _firestore_api(self) -> Any:
        """The GAPIC client, its transactional reads noted in `locks` (wrapped once, when first made)."""
        api = super()._firestore_api
        if not self._watched:
            self._watched = True
            batch_get, run_query, commit, batch_write = (
                api.batch_get_documents,
                api.run_query,
                api.commit,
                api.batch_write,
            )

            async def watched_get(*args: Any, request: Any = None, **kwargs: Any) -> Any:
                self.locks.read(request)
                return await batch_get(*args, request=request, **kwargs)

            async def watched_query(*args: Any, request: Any = None, **kwargs: Any) -> Any:
                self.locks.queried(request)
                return await run_query(*args, request=request, **kwargs)

            def note(request: Any) -> None:
                writes = request.get("writes") if isinstance(request, dict) else request.writes
                self.written.update(written(w) for w in writes or ())

            async def watched_commit(*args: Any, request: Any = None, **kwargs: Any) -> Any:
                note(request)  # before it is sent: a commit whose answer is lost may be applied
                return await commit(*args, request=request, **kwargs)

            async def watched_batch_write(*args: Any, request: Any = None, **kwargs: Any) -> Any:
                note(request)
                return await batch_write(*args, request=request, **kwargs)

            api.batch_get_documents, api.run_query = watched_get, watched_query
            api.commit, api.batch_write = watched_commit, watched_batch_write
        return api

    def transaction(self, **kwargs: Any) -> FaultyTransaction:
        return FaultyTransaction(self, self.plan, **kwargs)


def written(write: Any) -> str:
    """The document a commit's write changes (a set/update, or a delete)."""
    return str(write.update.name or write.delete)
