"""A metered model call: reserve the worst case, call the model, settle what was really used.

Order of work (ARCHITECTURE.md): validate -> idempotency -> reserve (Firestore transaction) ->
provider -> settle or void -> usage record. The provider step goes through the gateway's router:
the requested model, then its fallbacks (only those whose worst case fits the hold, which is
reserved at the worst case over the chain when the balance allows); the call is settled at the
price of the model that served it, and the usage record names it, its provider and deployment.
Nothing is charged for a call that failed before any output; a cut or cancelled stream pays for
what was produced; a retry with the same Idempotency-Key replays the stored result instead of
calling the model again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from google.cloud import firestore

from shared.auth.schemas import Principal
from shared.cache.types import Cache, CachedAnswer
from shared.catalog.catalog import Catalog, Deployment, ModelSpec, Provider
from shared.chat.caching import CachePlan, ChatCache
from shared.chat.idempotency import IdempotencyLock, IdempotencyStore
from shared.chat.schemas import CallResult
from shared.errors import AppError, BadRequest
from shared.gateway.auto import AUTO
from shared.gateway.gateway import Gateway, ModelStream
from shared.gateway.router import AllProvidersFailed
from shared.gateway.types import Candidate, Delta, Served, Usage
from shared.ledger.ledger import Ledger
from shared.limits.budgets.schemas import Admission
from shared.limits.budgets.service import Budgets
from shared.limits.ratelimit.service import RateLimits
from shared.plans.offers import ensure_model_allowed, plan_offers
from shared.settings import Settings
from shared.spending.payer import Payer, build_payer
from shared.usage.recorder import UsageRecorder

log = logging.getLogger("chat")

OnFinish = Callable[[CallResult], Awaitable[dict[str, Any] | None]]


@dataclass
class ChatCall:
    """Everything decided before the provider is called. `spec` and `provider` start as the requested
    model and become the serving one once the gateway answers (a fallback may serve)."""

    principal: Principal
    request_id: str
    spec: ModelSpec
    provider: Provider
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    max_tokens: int
    input_estimate: int
    hold_id: str
    lock: IdempotencyLock | None
    on_finish: OnFinish | None
    started: float = field(default_factory=time.perf_counter)
    created: int = field(default_factory=lambda: int(time.time()))
    first_token_at: float | None = None
    finished: CallResult | None = None
    # The models that may serve it (the requested one first) and what did serve it.
    chain: list[Candidate] = field(default_factory=list)
    requested: str = ""
    route_reason: str | None = None
    deployment: Deployment | None = None
    attempts: int = 0
    # The response cache's say on this request, and whether the balance cut its output limit.
    cache_plan: CachePlan | None = None
    limited: bool = False
    # Budget admission and tokens taken from the tokens-per-minute buckets before the provider call.
    admission: Admission | None = None
    tokens_admitted: int = 0
    # The wallet holding the credits: the caller's own, or a shard of their workspace's wallet.
    wallet_id: str = ""


@dataclass
class Replay:
    """A stored answer: an Idempotency-Key replay, or a response-cache hit (`cache_match` set)."""

    result: CallResult
    cache_match: str | None = None
    cache_created: int | None = None


class ChatService:
    def __init__(
        self,
        db: firestore.AsyncClient,
        ledger: Ledger | Payer,
        catalog: Catalog,
        gateway: Gateway,
        settings: Settings,
        cache: Cache | None = None,
        rate_limits: RateLimits | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        self.rate_limits = rate_limits
        self.budgets = budgets
        self.payer = build_payer(db, ledger)
        self.plans = plan_offers(settings)
        self.catalog = catalog
        self.gateway = gateway
        self.settings = settings
        self.idempotency = IdempotencyStore(db, settings)
        self.usage = UsageRecorder(db, settings.usage_retention_days)
        self.cache = ChatCache(cache, self.payer, self.usage, settings)

    async def begin(
        self,
        principal: Principal,
        request_id: str,
        model: str | None,
        messages: list[dict[str, Any]],
        max_tokens: int | None,
        params: dict[str, Any],
        idempotency_key: str | None = None,
        fingerprint: str = "",
        scope: str = "chat",
        on_finish: OnFinish | None = None,
        cache_opt_in: bool = False,
        cache_control: str | None = None,
    ) -> ChatCall | Replay:
        """Validate, claim the idempotency key, answer from the cache or reserve credits.

        Raises before anything is charged."""
        started = time.perf_counter()
        route_reason: str | None = None
        offer = self.plans.get(principal.plan)
        if model is not None and model.lower() == AUTO:
            choice = self.gateway.choose_auto(messages, offer.allows)
            spec, route_reason = choice.spec, choice.reason
            provider = self.catalog.resolve(spec.id)[1]
        else:
            spec, provider = self.catalog.resolve(model)
        ensure_model_allowed(offer, spec.id)
        input_estimate = self.gateway.count_prompt(spec, messages)
        room = spec.context_window - input_estimate
        if room < 1:
            raise BadRequest(
                f"The prompt is about {input_estimate} tokens; {spec.id} takes {spec.context_window}. "
                "Shorten the conversation.",
                code="context_length_exceeded",
            )
        wanted = min(max_tokens or spec.max_output_tokens, spec.max_output_tokens, room)
        options = [o for o in self._fallback_options(spec, messages, wanted) if offer.allows(o.spec.id)]
        plan = self.cache.plan(principal, spec, messages, params, wanted, cache_opt_in, cache_control)
        lock: IdempotencyLock | None = None
        if idempotency_key is not None:
            claimed = await self.idempotency.begin(principal.user_id, scope, idempotency_key, fingerprint)
            if isinstance(claimed, CallResult):
                return Replay(claimed)
            lock = claimed
        if (answer := await self.cache.lookup(plan)) is not None:
            return await self._serve_cached(principal, request_id, spec, answer, lock, on_finish, started)
        hold_id = uuid.uuid4().hex
        # The worst case over the whole chain, when the balance allows; the requested model's
        # smallest call is all that is required (see shared/gateway/router.py, "Money").
        worst = max(
            [spec.cost(input_estimate, wanted), *(o.spec.cost(o.input_tokens, o.max_tokens) for o in options)]
        )
        admission: Admission | None = None
        tokens_admitted = 0
        try:
            if self.rate_limits is not None:
                await self.rate_limits.admit_tokens(principal, input_estimate)
                tokens_admitted = input_estimate
            if self.budgets is not None:
                admission = await self.budgets.admit(
                    self.budgets.for_user(principal), worst, minimum=spec.cost(input_estimate, 1)
                )
                worst = admission.amount
            hold = await self.payer.reserve(
                principal.wallet_id,
                hold_id,
                want=worst,
                minimum=spec.cost(input_estimate, 1),
                ref=f"chat:{request_id}",
                spender=principal.user_id,
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                if admission is not None and self.budgets is not None:
                    await self.budgets.release(admission)
                if tokens_admitted and self.rate_limits is not None:
                    await self.rate_limits.record_tokens(principal, -tokens_admitted)
                if lock is not None:
                    await self.idempotency.release(lock)
            raise
        affordable = spec.affordable_output(hold.amount, input_estimate)
        first = Candidate(spec, max(1, min(wanted, affordable)), input_estimate)
        chain = [first]
        for option in options:
            limited = Candidate(option.spec, min(option.max_tokens, first.max_tokens), option.input_tokens)
            if limited.spec.cost(limited.input_tokens, limited.max_tokens) <= hold.amount:
                chain.append(limited)
        return ChatCall(
            principal,
            request_id,
            spec,
            provider,
            messages,
            params,
            first.max_tokens,
            input_estimate,
            hold_id,
            lock,
            on_finish,
            started=started,
            chain=chain,
            requested=spec.id,
            route_reason=route_reason,
            cache_plan=plan,
            limited=first.max_tokens < wanted,
            admission=admission,
            tokens_admitted=tokens_admitted,
            wallet_id=hold.wallet_id,
        )

    async def _serve_cached(
        self,
        principal: Principal,
        request_id: str,
        spec: ModelSpec,
        answer: CachedAnswer,
        lock: IdempotencyLock | None,
        on_finish: OnFinish | None,
        started: float,
    ) -> Replay:
        try:
            result = await self.cache.serve(principal, request_id, spec, answer, started)
            if on_finish is not None:
                result.extra = await on_finish(result) or {}
        except BaseException:
            if lock is not None:
                with anyio.CancelScope(shield=True):
                    await self.idempotency.release(lock)
            raise
        if lock is not None:
            await self.idempotency.complete(lock, result)
        return Replay(result, cache_match=answer.match, cache_created=answer.created)

    def _fallback_options(
        self, spec: ModelSpec, messages: list[dict[str, Any]], wanted: int
    ) -> list[Candidate]:
        """The model's fallbacks whose context takes the prompt, each at its own output limit."""
        out = []
        for other in self.gateway.options(spec)[1:]:
            tokens = self.gateway.count_prompt(other, messages)
            limit = min(wanted, other.max_output_tokens, other.context_window - tokens)
            if limit >= 1:
                out.append(Candidate(other, limit, tokens))
        return out

    def _served(self, call: ChatCall, served: Served | None) -> None:
        """Point the call at the model and deployment that answered: it is charged at their price."""
        if served is None:
            return
        call.deployment = served.deployment
        call.attempts = served.attempts
        if served.spec.id != call.spec.id:
            call.spec = served.spec
            call.input_estimate = next(
                (c.input_tokens for c in call.chain if c.spec.id == served.spec.id), call.input_estimate
            )
        call.provider = self.catalog.providers[served.deployment.provider]

    async def complete(self, call: ChatCall) -> CallResult:
        try:
            completion = await self.gateway.complete(call.chain, call.messages, call.params)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self.finish(call, "", None, None, exc)
            raise
        call.first_token_at = time.perf_counter()
        self._served(call, completion.served)
        return await self.finish(call, completion.text, completion.finish_reason, completion.usage, None)

    async def open_stream(self, call: ChatCall) -> ChatStream:
        """Open the upstream stream; the gateway returns it once its first delta is in (failing over
        before that), so a failure before the first token is a plain error and nothing is charged."""
        upstream: ModelStream | None = None
        try:
            upstream = await self.gateway.open_stream(call.chain, call.messages, call.params)
            deltas = upstream.__aiter__()
            first: Delta | None = await anext(deltas, None)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if upstream is not None:
                    self._served(call, upstream.served)
                    await upstream.aclose()
                await self.finish(call, "", None, None, exc)
            raise
        call.first_token_at = time.perf_counter()
        self._served(call, upstream.served)
        return ChatStream(self, call, upstream, deltas, first)

    async def finish(
        self,
        call: ChatCall,
        text: str,
        finish_reason: str | None,
        usage: Usage | None,
        error: BaseException | None,
        cancelled: bool = False,
    ) -> CallResult:
        """Settle (or void) the hold, record usage and the idempotent result. Runs once per call."""
        if call.finished is not None:
            return call.finished
        app_error = _as_app_error(error)
        if isinstance(error, AllProvidersFailed):
            call.attempts = error.attempts
        cancelled = cancelled or isinstance(error, anyio.get_cancelled_exc_class())
        if usage is None or not usage.reported:
            usage = Usage(call.input_estimate, self.gateway.count_text(call.spec, text), False)
        # Pay for what was produced: a full answer, or the part of one that reached us.
        produced = bool(text) or (error is None and not cancelled)
        if cancelled:
            outcome = "cancelled"
        elif error is None:
            outcome = "ok"
        else:
            outcome = "partial" if text else "error"
        credits = 0
        wallet = call.wallet_id
        if produced:
            # At the serving model's price; the ledger charges at most the hold.
            hold = await self.payer.settle(wallet, call.hold_id, usage.cost(call.spec))
            credits = hold.charged
        else:
            await self.payer.void(wallet, call.hold_id)
        result = CallResult(
            id=f"chatcmpl-{call.hold_id}",
            created=call.created,
            model=call.spec.id,
            provider=call.provider.name,
            content=text,
            finish_reason=finish_reason if error is None else "error",
            input_tokens=usage.input_tokens if produced else 0,
            output_tokens=usage.output_tokens if produced else 0,
            credits=credits,
            outcome=outcome,  # type: ignore[arg-type]
            error=app_error.body()["error"] if app_error else None,
            route_reason=call.route_reason,
        )
        call.finished = result
        if self.budgets is not None and call.admission is not None:
            if produced:
                await self.budgets.settle(call.admission, credits)
            else:
                await self.budgets.release(call.admission)
        if self.rate_limits is not None and call.tokens_admitted:
            used = result.input_tokens + result.output_tokens
            await self.rate_limits.record_tokens(call.principal, used - call.tokens_admitted)
        await self._record(call, result, usage)
        if error is None and not cancelled:
            await self.cache.store(call.cache_plan, result, call.requested, call.limited)
        if call.on_finish is not None and produced:
            result.extra = await call.on_finish(result) or {}
        if call.lock is not None:
            if not produced:
                await self.idempotency.release(call.lock)
            else:
                await self.idempotency.complete(call.lock, result)
        return result

    async def _record(self, call: ChatCall, result: CallResult, usage: Usage) -> None:
        now = time.perf_counter()
        ttft = None if call.first_token_at is None else round((call.first_token_at - call.started) * 1000, 1)
        fields = {
            "user_id": call.principal.user_id,
            "wallet_id": call.wallet_id,
            "workspace_id": call.principal.workspace_id,
            "feature": "chat",
            "api_key_id": call.principal.key_id,
            "request_id": call.request_id,
            "hold_id": call.hold_id,
            "model": call.spec.id,
            "provider": call.provider.name,
            "requested_model": call.requested,
            "deployment": call.deployment.id if call.deployment else None,
            "attempts": call.attempts,
            "route_reason": call.route_reason,
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens if result.input_tokens else 0,
            "cache_write_tokens": usage.cache_write_tokens if result.input_tokens else 0,
            "usage_reported": usage.reported,
            "credits": result.credits,
            "latency_ms": round((now - call.started) * 1000, 1),
            "ttft_ms": ttft,
            "outcome": result.outcome,
            "error_code": result.error["code"] if result.error else None,
        }
        await self.usage.record(call.hold_id, **fields)
        log.info("model call", extra={"usage": fields})


class ChatStream:
    """The deltas of an open stream. Iterating to the end, failing, or being cancelled all settle once."""

    def __init__(
        self,
        service: ChatService,
        call: ChatCall,
        upstream: ModelStream,
        deltas: AsyncIterator[Delta],
        first: Delta | None,
    ) -> None:
        self.service = service
        self.call = call
        self._upstream = upstream
        self._deltas = deltas
        self._first = first
        self._text: list[str] = []
        self._finish_reason: str | None = None
        self.error: AppError | None = None

    async def deltas(self) -> AsyncIterator[Delta]:
        """Yields deltas; on a provider failure after the first token, stops and sets `error`."""
        cancelled = True
        try:
            pending = [self._first] if self._first is not None else []
            while True:
                delta = pending.pop() if pending else await anext(self._deltas, None)
                if delta is None:
                    break
                self._text.append(delta.text)
                if delta.finish_reason:
                    self._finish_reason = delta.finish_reason
                yield delta
            cancelled = False
        except AppError as exc:
            cancelled = False
            self.error = exc
        finally:
            with anyio.CancelScope(shield=True):
                await self._upstream.aclose()
                await self.service.finish(
                    self.call,
                    "".join(self._text),
                    self._finish_reason,
                    self._upstream.usage,
                    self.error,
                    cancelled=cancelled,
                )

    @property
    def result(self) -> CallResult | None:
        return self.call.finished


def _as_app_error(error: BaseException | None) -> AppError | None:
    if error is None or isinstance(error, AppError):
        return error
    if isinstance(error, Exception):
        return AppError("The call failed on our side; nothing was charged.")
    return None
