"""The simulated world: wallets, chat spends in flight, deliveries to retry, a clock; one seeded step at a
time against the real ledger, each step predicted by the model (tests/sim/model.py).

A caller that sees an error (an injected fault) retries later with the same ids, as a client with an
Idempotency-Key, Cloud Tasks or a webhook sender does; the model knows whether the failed attempt was
applied (the fault plan says), so it predicts the retry exactly. Where two deliveries race, the outcome
is read back (which of them committed is Firestore's choice) and what follows from it is predicted.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore
from redis.asyncio import Redis

from shared.embeddings.service import EmbeddingService
from shared.jobs.parts import JobParts
from shared.jobs.runner import StepRunner
from shared.jobs.sweep import JobSweeper
from shared.knowledge.service import VectorStoreService
from shared.ledger.errors import HoldNotFound, InsufficientCredits, PaymentDebt
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Hold
from shared.ledger.shards import ShardedWallets
from shared.purchases.orders import Orders
from shared.purchases.payments import Purchases
from shared.purchases.webhooks import PaymentWebhooks
from tests.sim import (
    audio_sim,
    budgets_sim,
    embeddings_sim,
    jobs_sim,
    leases_sim,
    payments,
    shards,
    speech_sim,
    ssl_sim,
    storage_sim,
    streams,
    stripe_sim,
    upkeep,
    ws_audio_sim,
    ws_embeddings_sim,
)
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
    "embed": 2,
    "stt_open": 0.8,
    "stt_chunk": 2,
    "stt_end": 0.8,
    "store_create": 0.2,
    "store_grow": 0.1,
    "storage_sweep": 0.8,
    "redis_outage": 0.05,
    "redis_flush": 0.03,
    "ws_grant": 2,
    "ws_open_stream": 3,
    "ws_progress": 2,
    "ws_finish_stream": 3,
    "ws_void_stream": 0.5,
    "ws_abandon_stream": 0.5,
    "ws_late_settle": 0.5,
    "lease_grant": 0.2,
    "lease_open": 2,
    "lease_end": 2,
    "lease_flush": 0.8,
    "lease_sweep": 0.4,
    "lease_crash": 0.1,
    "retry": 3,
    "tick": 1,
    "sweep_holds": 1,
    "sweep_lots": 1,
    "tts": 1,
    "ws_tts": 0.8,
    "ws_embed": 1,
    "ws_stt_open": 0.5,
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
    payer: embeddings_sim.SeenPayer  # the API's payer (embedding calls) and the reconciler's (storage)
    embedder: embeddings_sim.ScriptedEmbedder
    embeddings: EmbeddingService


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
        stores_service: VectorStoreService,
    ) -> None:
        self.rng, self.plan, self.instances, self.clock, self.ttl = rng, plan, instances, clock, ttl
        self.ledger = instances[0].ledger  # for reads and the reconciler
        self.model = {w: ModelWallet() for w in wallets}
        self.pay = ModelPayments(self.model)
        self.tag = tag
        self.sharded = {b: ShardedModel() for b in workspaces}
        self.shard_streams: list[shards.ShardStream] = []
        self.ledger_shards = instances[0].shards
        self.streams: list[streams.Stream] = []
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
        self.metered: dict[str, embeddings_sim.Metered] = {}  # embedding calls and sessions, by hold id
        self.sessions: list[audio_sim.Session] = []
        self.audio_settings = audio_sim.settings(settings_project(db))
        self.stores_service = stores_service
        self.stores: dict[str, storage_sim.SimStore] = {}
        self.audited: dict[str, Any] = {}  # each wallet and workspace as the model had it when last checked

    def new_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    async def step(self) -> str:
        op = self.rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
        self.counts[op] += 1
        done = await OPS[op](self)
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

    def wallet(self) -> str:
        return self.rng.choice(sorted(self.model))

    async def sweep_holds(self) -> str:
        return await upkeep.sweep_holds(self)

    async def drain(self) -> None:
        await upkeep.drain(self)


def settings_project(db: firestore.AsyncClient) -> str:
    return str(db.project)


Op = Callable[[World], Awaitable[str]]

# Each operation of WEIGHTS, by the module that runs it.
OPS: dict[str, Op] = {
    "grant": streams.grant,
    "grant_expiring": streams.grant_expiring,
    "racing_grants": streams.racing_grants,
    "open_stream": streams.open_stream,
    "progress": streams.progress,
    "finish_stream": streams.finish_stream,
    "void_stream": streams.void_stream,
    "abandon_stream": streams.abandon_stream,
    "racing_settles": streams.racing_settles,
    "purchase": payments.purchase,
    "claw_back": payments.claw_back,
    "racing_purchases": payments.racing_purchases,
    "stripe_pay": stripe_sim.pay,
    "stripe_refund": stripe_sim.refund,
    "stripe_dispute": stripe_sim.dispute,
    "stripe_redeliver": stripe_sim.redeliver,
    "stripe_racing": stripe_sim.racing,
    "stripe_late": stripe_sim.late,
    "ssl_pay": ssl_sim.pay,
    "ssl_renotify": ssl_sim.renotify,
    "ssl_recheck": ssl_sim.recheck,
    "job_create": jobs_sim.create,
    "job_deliver": jobs_sim.deliver,
    "job_late": jobs_sim.late,
    "job_slow": jobs_sim.slow,
    "job_cancel": jobs_sim.cancel,
    "job_sweep": jobs_sim.sweep,
    "embed": embeddings_sim.embed,
    "stt_open": audio_sim.open_session,
    "stt_chunk": audio_sim.chunk,
    "stt_end": audio_sim.end,
    "store_create": storage_sim.create,
    "store_grow": storage_sim.grow,
    "storage_sweep": storage_sim.sweep,
    "redis_outage": budgets_sim.outage,
    "redis_flush": budgets_sim.flush,
    "ws_grant": shards.grant,
    "ws_open_stream": shards.open_stream,
    "ws_progress": shards.progress,
    "ws_finish_stream": shards.finish_stream,
    "ws_void_stream": shards.void_stream,
    "ws_abandon_stream": shards.abandon_stream,
    "ws_late_settle": shards.late_settle,
    "lease_grant": leases_sim.grant,
    "lease_open": leases_sim.open_call,
    "lease_end": leases_sim.end_call,
    "lease_flush": leases_sim.flush,
    "lease_sweep": leases_sim.sweep,
    "lease_crash": leases_sim.crash,
    "retry": upkeep.retry,
    "tick": upkeep.tick,
    "sweep_holds": upkeep.sweep_holds,
    "sweep_lots": upkeep.sweep_lots,
    "tts": speech_sim.tts,
    "ws_tts": speech_sim.ws_tts,
    "ws_embed": ws_embeddings_sim.ws_embed,
    "ws_stt_open": ws_audio_sim.ws_open,
}
assert set(OPS) == set(WEIGHTS)
