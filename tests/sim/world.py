"""The simulated world: wallets, chat spends in flight, deliveries to retry, a clock; one seeded step at a
time against the real ledger, each step predicted by the model (tests/sim/model.py).

A caller that sees an error (an injected fault) retries later with the same ids, as a client with an
Idempotency-Key, Cloud Tasks or a webhook sender does; the model knows whether the failed attempt was
applied (the fault plan says), so it predicts the retry exactly. Where two deliveries race, the outcome
is read back (which of them committed is Firestore's choice) and what follows from it is predicted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore
from redis.asyncio import Redis

from shared.jobs.parts import JobParts
from shared.jobs.runner import StepRunner
from shared.jobs.sweep import JobSweeper
from shared.ledger.errors import HoldNotFound, InsufficientCredits, PaymentDebt
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Hold
from shared.ledger.shards import ShardedWallets
from shared.purchases.orders import Orders
from shared.purchases.payments import Purchases
from shared.purchases.webhooks import PaymentWebhooks
from tests.sim import budgets_sim, jobs_sim, payments, shards, ssl_sim, stripe_sim
from tests.sim.calls import Action, Expect, Retry, Violation, shown
from tests.sim.event_model import EventModel
from tests.sim.faults import CALLER_ERRORS, FaultPlan
from tests.sim.hooks import Gateway, Keys
from tests.sim.model import ModelHold, ModelWallet
from tests.sim.payments import ModelPayments
from tests.sim.shards import ShardedModel
from tests.support.lots import Clock

# Operation weights: spends dominate, as in production; faults come from the plan, not from here.
WEIGHTS = {
    "grant": 3,
    "grant_expiring": 2,
    "racing_grants": 0.1,
    "open_stream": 5,
    "progress": 4,
    "finish_stream": 4,
    "void_stream": 1,
    "abandon_stream": 1,
    "racing_settles": 0.1,
    "purchase": 1,
    "claw_back": 0.5,
    "racing_purchases": 0.1,
    "stripe_pay": 1,
    "stripe_refund": 0.4,
    "stripe_dispute": 0.5,
    "stripe_redeliver": 1,
    "stripe_racing": 0.1,
    "stripe_late": 0.2,
    "ssl_pay": 0.6,
    "ssl_renotify": 0.3,
    "ssl_recheck": 0.2,
    "job_create": 0.6,
    "job_deliver": 1.5,
    "job_late": 0.2,
    "job_slow": 0.15,
    "job_cancel": 0.15,
    "job_sweep": 0.3,
    "redis_outage": 0.05,
    "redis_flush": 0.03,
    "ws_grant": 2,
    "ws_open_stream": 3,
    "ws_progress": 2,
    "ws_finish_stream": 3,
    "ws_void_stream": 0.5,
    "ws_abandon_stream": 0.5,
    "ws_late_settle": 0.5,
    "retry": 3,
    "tick": 1,
    "sweep_holds": 1,
    "sweep_lots": 1,
}


@dataclass(frozen=True)
class Instance:
    """One Cloud Run instance or function: its own ledger (its own per-wallet turns) on the shared store."""

    ledger: Ledger
    purchases: Purchases
    shards: ShardedWallets
    hooks: PaymentWebhooks  # the payments function: Stripe events and SSLCommerz notifications
    orders: Orders
    jobs: JobParts  # the jobs worker and the reconciler's job sweep
    runner: StepRunner
    sweeper: JobSweeper


@dataclass
class Stream:
    """A chat spend in flight: its hold, what it has used so far, and whether its heartbeat runs."""

    wallet: str
    hold_id: str
    used: int
    heartbeat: bool


class World:
    def __init__(
        self,
        rng: random.Random,
        plan: FaultPlan,
        instances: list[Instance],
        clock: Clock,
        wallets: list[str],
        ttl: dt.timedelta,
        tag: str,
        workspaces: list[str],
        db: firestore.AsyncClient,
        keys: Keys,
        gateway: Gateway,
        tasks: jobs_sim.Tasks,
        kind: jobs_sim.SimKind,
        redis: Redis,
        budgets: budgets_sim.Ledgered,
    ) -> None:
        self.rng, self.plan, self.instances, self.clock, self.ttl = rng, plan, instances, clock, ttl
        self.ledger = instances[0].ledger  # for reads and the reconciler
        self.model = {w: ModelWallet() for w in wallets}
        self.pay = ModelPayments(self.model)
        self.tag = tag
        self.sharded = {b: ShardedModel() for b in workspaces}
        self.shard_streams: list[shards.ShardStream] = []
        self.ledger_shards = instances[0].shards
        self.streams: list[Stream] = []
        self.retries: list[Retry] = []
        self.recent: deque[str] = deque(maxlen=15)
        self.counts: dict[str, int] = dict.fromkeys(WEIGHTS, 0)
        self.n = 0
        self.db, self.keys, self.gateway = db, keys, gateway
        self.events = EventModel(self.model, self.sharded)  # payments that arrive as provider events
        self.stripe = stripe_sim.StripeState()
        self.orders: dict[str, ssl_sim.Order] = {}
        self.jobs: dict[str, jobs_sim.SimJob] = {}
        self.tasks = tasks
        self.kind = kind
        self.redis, self.budgets = redis, budgets

    def new_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    async def step(self) -> str:
        op = self.rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
        self.counts[op] += 1
        done: str = await getattr(self, op)()
        self.recent.append(done)
        return done

    # -- calling the ledger ---------------------------------------------------------------------------

    async def call(
        self, what: str, wallet: str, action: Action, expect: Expect, view: Callable[[Any], Any] = lambda x: x
    ) -> tuple[str, Any]:
        """Run `action` on one of the instances; predict with `expect` (which updates the model) and
        compare. A caller error queues the same call for a retry. Returns (outcome text, result)."""
        self.plan.start()
        instance = self.rng.choice(self.instances)
        try:
            got = await action(instance)
        except CALLER_ERRORS:
            if self.plan.committed_then_lost():
                expect()  # the write happened; only its answer was lost
            self.retries.append(Retry(what, wallet, action, expect, view))
            return f"{what} -> error after {self.plan.current}", None
        except (HoldNotFound, InsufficientCredits, PaymentDebt) as exc:
            got = exc
        want = expect()
        got = got if isinstance(got, Exception) else view(got)
        self.same(what, got, want)
        return f"{what} -> {shown(got)}", got

    def same(self, what: str, got: Any, want: Any) -> None:
        refusals = {"debt": PaymentDebt, "insufficient": InsufficientCredits}
        if isinstance(want, ModelHold):
            ok = isinstance(got, Hold) and (got.amount, got.state, got.charged) == (
                want.amount,
                want.state,
                want.shown_charge,
            )
        elif want is None:
            ok = isinstance(got, HoldNotFound)
        elif isinstance(want, str):
            ok = isinstance(got, refusals[want])
        else:
            ok = got == want
        if not ok:
            raise Violation(f"{what}: the ledger answered {shown(got)}, the model expects {shown(want)}")

    # -- credits in -------------------------------------------------------------------------------------

    def wallet(self) -> str:
        return self.rng.choice(sorted(self.model))

    async def grant(self, ends: dt.datetime | None = None) -> str:
        w = self.wallet()
        m = self.model[w]
        ext = self.rng.choice(sorted(m.grants)) if m.grants and self.rng.random() < 0.15 else self.new_id("g")
        amount = self.rng.randint(1, 2_000)
        text, _ = await self.call(
            f"grant({w[-4:]}, {ext}, {amount}, ends={ends})",
            w,
            lambda i: i.ledger.grant(w, amount, ext, expires_at=ends),
            lambda: m.grant(ext, amount, self.clock.at, ends),
        )
        return text

    async def grant_expiring(self) -> str:
        return await self.grant(self.clock.at + dt.timedelta(hours=self.rng.randint(-1, 48)))

    async def racing_grants(self) -> str:
        """One payment event delivered to two instances at the same moment: granted once."""
        w = self.wallet()
        m = self.model[w]
        ext, amount = self.new_id("race"), self.rng.randint(1, 2_000)
        self.plan.start()
        results = await asyncio.gather(
            *(i.ledger.grant(w, amount, ext) for i in self.instances), return_exceptions=True
        )
        applied = [r for r in results if r is True]
        if len(applied) > 1:
            raise Violation(f"racing grant {ext} applied {len(applied)} times")
        stored = await self.ledger.docs.entry(w, "grant", ext).get()
        if stored.exists:
            m.grant(ext, amount, self.clock.at)
        else:
            self.retries.append(
                Retry(
                    f"grant({ext})",
                    w,
                    lambda i: i.ledger.grant(w, amount, ext),
                    lambda: m.grant(ext, amount, self.clock.at),
                )
            )
        return f"racing grants {ext} -> {[shown(r) for r in results]}"

    # -- spends -----------------------------------------------------------------------------------------

    async def open_stream(self) -> str:
        w = self.wallet()
        m = self.model[w]
        hold_id, want = self.new_id("h"), self.rng.randint(1, 900)
        minimum = self.rng.randint(1, want)
        text, got = await self.call(
            f"reserve({w[-4:]}, {hold_id}, {want}, min={minimum})",
            w,
            lambda i: i.ledger.reserve(w, hold_id, want, minimum),
            lambda: m.reserve(hold_id, want, minimum, self.clock.at, self.ttl),
        )
        if isinstance(got, Hold):
            self.streams.append(Stream(w, hold_id, 0, heartbeat=self.rng.random() < 0.85))
        return text

    def stream(self) -> Stream | None:
        return self.rng.choice(self.streams) if self.streams else None

    async def progress(self) -> str:
        """Tokens flow and time passes; a stream with a heartbeat extends its hold before it expires."""
        s = self.stream()
        if s is None:
            return "progress: no stream"
        s.used += self.rng.randint(0, 300)
        self.clock.advance(dt.timedelta(seconds=self.rng.randint(1, int(self.ttl.total_seconds()) // 3)))
        if not s.heartbeat:
            return f"progress({s.hold_id}) without heartbeat -> used {s.used}"
        m = self.model[s.wallet]
        text, _ = await self.call(
            f"extend({s.hold_id})",
            s.wallet,
            lambda i: i.ledger.extend(s.wallet, s.hold_id, int(self.ttl.total_seconds())),
            lambda: m.extend(s.hold_id, self.clock.at + self.ttl),
        )
        return text

    async def finish_stream(self, s: Stream | None = None) -> str:
        s = s or self.stream()
        if s is None:
            return "finish: no stream"
        self.streams.remove(s)
        m = self.model[s.wallet]
        amount = s.used + self.rng.randint(0, 50)
        text, _ = await self.call(
            f"settle({s.hold_id}, {amount})",
            s.wallet,
            lambda i: i.ledger.settle(s.wallet, s.hold_id, amount),
            lambda: m.settle(s.hold_id, amount, self.clock.at),
        )
        return text

    async def void_stream(self) -> str:
        s = self.stream()
        if s is None:
            return "void: no stream"
        self.streams.remove(s)
        m = self.model[s.wallet]
        text, _ = await self.call(
            f"void({s.hold_id})",
            s.wallet,
            lambda i: i.ledger.void(s.wallet, s.hold_id),
            lambda: m.void(s.hold_id, self.clock.at),
        )
        return text

    async def abandon_stream(self) -> str:
        """The instance dies mid-stream: nobody settles; the reconciler releases the hold once it expires."""
        s = self.stream()
        if s is None:
            return "abandon: no stream"
        self.streams.remove(s)
        return f"abandon({s.hold_id})"

    async def racing_settles(self) -> str:
        """The same settle delivered to two instances at once (a retried task): charged once."""
        s = self.stream()
        if s is None:
            return "racing settles: no stream"
        self.streams.remove(s)
        m, at, amount = self.model[s.wallet], self.clock.at, s.used
        held = m.holds[s.hold_id]
        self.plan.start()
        results = await asyncio.gather(
            *(i.ledger.settle(s.wallet, s.hold_id, amount) for i in self.instances), return_exceptions=True
        )
        stored = await self.ledger.hold(s.wallet, s.hold_id)
        if stored is None:
            raise Violation(f"hold {s.hold_id} vanished")
        # Pending: applied once it is settled. Expired by the reconciler: applied once the late charge shows.
        applied = stored.state != "pending" if held.state == "pending" else stored.charged > 0 or amount == 0
        if applied:
            want = m.settle(s.hold_id, amount, at)
            for r in results:
                if isinstance(r, Hold):
                    self.same(f"racing settle({s.hold_id})", r, want)
        else:
            self.retries.append(
                Retry(
                    f"settle({s.hold_id})",
                    s.wallet,
                    lambda i: i.ledger.settle(s.wallet, s.hold_id, amount),
                    lambda: m.settle(s.hold_id, amount, self.clock.at),
                )
            )
        return f"racing settles {s.hold_id} -> {[shown(r) for r in results]}"

    # -- payments (tests/sim/payments.py) ------------------------------------------------------------------

    async def purchase(self) -> str:
        return await payments.purchase(self)

    async def claw_back(self) -> str:
        return await payments.claw_back(self)

    async def racing_purchases(self) -> str:
        return await payments.racing_purchases(self)

    # -- provider events through the payments function (tests/sim/stripe_sim.py, tests/sim/ssl_sim.py) -----

    async def stripe_pay(self) -> str:
        return await stripe_sim.pay(self)

    async def stripe_refund(self) -> str:
        return await stripe_sim.refund(self)

    async def stripe_dispute(self) -> str:
        return await stripe_sim.dispute(self)

    async def stripe_redeliver(self) -> str:
        return await stripe_sim.redeliver(self)

    async def stripe_racing(self) -> str:
        return await stripe_sim.racing(self)

    async def stripe_late(self) -> str:
        return await stripe_sim.late(self)

    async def ssl_pay(self) -> str:
        return await ssl_sim.pay(self)

    async def ssl_renotify(self) -> str:
        return await ssl_sim.renotify(self)

    async def ssl_recheck(self) -> str:
        return await ssl_sim.recheck(self)

    # -- jobs (tests/sim/jobs_sim.py) ----------------------------------------------------------------------

    async def job_create(self) -> str:
        return await jobs_sim.create(self)

    async def job_deliver(self) -> str:
        return await jobs_sim.deliver(self)

    async def job_slow(self) -> str:
        return await jobs_sim.slow(self)

    async def redis_outage(self) -> str:
        return await budgets_sim.outage(self)

    async def redis_flush(self) -> str:
        return await budgets_sim.flush(self)

    async def job_late(self) -> str:
        return await jobs_sim.late(self)

    async def job_cancel(self) -> str:
        return await jobs_sim.cancel(self)

    async def job_sweep(self) -> str:
        return await jobs_sim.sweep(self)

    # -- workspace wallets (tests/sim/shards.py) --------------------------------------------------------

    async def ws_grant(self) -> str:
        return await shards.grant(self)

    async def ws_late_settle(self) -> str:
        return await shards.late_settle(self)

    async def ws_open_stream(self) -> str:
        return await shards.open_stream(self)

    async def ws_progress(self) -> str:
        return await shards.progress(self)

    async def ws_finish_stream(self) -> str:
        return await shards.finish_stream(self)

    async def ws_void_stream(self) -> str:
        return await shards.void_stream(self)

    async def ws_abandon_stream(self) -> str:
        return await shards.abandon_stream(self)

    # -- the platform -----------------------------------------------------------------------------------

    async def retry(self) -> str:
        """A delivery that failed comes again (Cloud Tasks, a webhook sender, a client's retry)."""
        if not self.retries:
            return "retry: nothing to retry"
        r = self.retries.pop(self.rng.randrange(len(self.retries)))
        text, _ = await self.call(f"{r.what} (again)", r.wallet, r.action, r.expect, r.view)
        return text

    async def tick(self) -> str:
        """Time passes. Streams with a heartbeat end before a long pause (a chat does not last days);
        one without (its heartbeat died) lives on and may be settled after its hold expired."""
        delta = dt.timedelta(minutes=self.rng.choice([1, 10, 30, 60, 600, 1_440, 2_880]))
        if delta >= self.ttl / 3:
            for s in [s for s in self.streams if s.heartbeat]:
                await self.finish_stream(s)
            for ws in list(self.shard_streams):
                await shards.finish_stream(self, ws)
        self.clock.advance(delta)
        return f"tick {delta} -> {self.clock.at}"

    async def sweep_holds(self) -> str:
        """The reconciler: every pending hold past its expiry is released, unless a fault stops one (then
        the next sweep does it)."""
        at = self.clock.at
        self.plan.start()
        await self.ledger.expire_due()
        expired = 0
        for w, m in self.model.items():
            for hold_id in m.due_holds(at):
                stored = await self.ledger.hold(w, hold_id)
                if stored is not None and stored.state == "expired":
                    expired += m.expire_hold(hold_id, at)
                elif "unavailable" not in self.plan.current:
                    raise Violation(
                        f"the sweep left due hold {hold_id} {shown(stored)} with no fault to excuse it"
                    )
        await shards.swept(self, at)
        return f"sweep holds -> {expired} expired, faults {self.plan.current}"

    async def sweep_lots(self) -> str:
        at = self.clock.at
        self.plan.start()
        await self.ledger.expire_lots()
        for w, m in self.model.items():
            if not m.due(at):
                continue
            doc = (await self.ledger.docs.wallet(w).get()).to_dict() or {}
            if not any(lot["expires_at"] <= at for lot in doc.get("lots", [])):
                m.expire(at)
            elif "unavailable" not in self.plan.current:
                raise Violation(f"the lot sweep left due lots in {w} with no fault to excuse it")
        return f"sweep lots -> faults {self.plan.current}"

    async def drain(self) -> None:
        """The end of the run: every failed delivery comes again, and the reconciler runs, fault-free."""
        self.plan.enabled = False
        while self.retries:
            self.recent.append(await self.retry())
        for s in list(self.streams):
            self.recent.append(await self.finish_stream(s))
        for ws in list(self.shard_streams):
            self.recent.append(await shards.finish_stream(self, ws))
        await stripe_sim.drain(self)
        await ssl_sim.drain(self)
        await jobs_sim.drain(self)
        self.clock.advance(self.ttl * 2)
        self.recent.append(await self.sweep_holds())
