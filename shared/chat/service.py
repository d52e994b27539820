"""A metered model call: reserve the worst case, call the model, settle what was really used.

Order of work (docs/architecture.md): guardrails pre_call (shared/chat/guard.py: block, or mask what
the provider will see) -> validate -> idempotency -> response cache -> admit (tokens, budget, credit
hold: shared/chat/admission.py) -> provider -> guardrails post_call -> settle or release -> usage record
(shared/chat/settlement.py). The provider step goes through the gateway's router: the requested
model, then its fallbacks (shared/chat/chain.py: only those whose worst case fits the hold); the
call is settled at the price of the model that served it, and the usage record names it, its
provider and deployment. Nothing is charged for a call that failed before any output; a cut or
cancelled stream pays for what was produced; a retry with the same Idempotency-Key replays the
stored result instead of calling the model again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import anyio

from shared.auth.schemas import Principal
from shared.cache.keys import NO_DIRECTIVES, CacheDirectives
from shared.cache.types import CachedAnswer
from shared.catalog.catalog import Catalog, ModelSpec, Provider
from shared.chat import capabilities, tools
from shared.chat.admission import ChatAdmission
from shared.chat.caching import ChatCache
from shared.chat.call import Asked, ChatCall, OnFinish, Outcome, Replay, Serving
from shared.chat.chain import output_limit, plan_chain
from shared.chat.guard import CallGuard, Guardrails, blocked_after_output
from shared.chat.idempotency import IdempotencyLock, IdempotencyStore
from shared.chat.schemas import CallResult
from shared.chat.settlement import Settlement
from shared.chat.stream import ChatStream, Heartbeat
from shared.gateway.auto import AUTO
from shared.gateway.gateway import Gateway, ModelStream
from shared.gateway.types import Candidate, Delta, Served
from shared.knowledge.retrieval import Retrieval
from shared.limits.budgets.service import Budgets
from shared.limits.ratelimit.service import RateLimits
from shared.plans.offers import PlanOffer, PlanOffers, ensure_model_allowed
from shared.spending.leases import LeaseBook
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder

__all__ = ["ChatCall", "ChatService", "ChatStream", "Replay"]

T = TypeVar("T")
# litellm's tokenizer takes ~0.15 ms per 1,000 characters: a prompt above this size is counted in a
# worker thread so other requests keep being served; a smaller one inline, where the thread hop
# (and a slot of anyio's thread limiter) would cost more than the count.
OFF_LOOP_CHARS = 16_000


def prompt_chars(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(str(part.get("text") or "")) for part in content if isinstance(part, dict))
    return total


async def count_off_loop(messages: list[dict[str, Any]], count: Callable[[], T]) -> T:
    """Run `count` (token counting of `messages`) off the event loop when the prompt is big."""
    if prompt_chars(messages) < OFF_LOOP_CHARS:
        return count()
    return await anyio.to_thread.run_sync(count)


class ChatService:
    """Handed every collaborator ready-made (shared/bootstrap.py builds them)."""

    def __init__(
        self,
        *,
        payer: Payer,
        idempotency: IdempotencyStore,
        usage: UsageRecorder,
        cache: ChatCache,
        plans: PlanOffers,
        gateway: Gateway,
        catalog: Catalog,
        rate_limits: RateLimits | None = None,
        budgets: Budgets | None = None,
        hold_ttl_s: int = 900,
        guardrails: Guardrails | None = None,
        leases: LeaseBook | None = None,
    ) -> None:
        """Without `guardrails`, calls are not screened (tests of other parts build it so)."""
        self._hold_ttl_s = hold_ttl_s  # the ledger's hold TTL: a stream's heartbeat renews it
        self.payer = payer
        self.idempotency = idempotency
        self.usage = usage
        self.cache = cache
        self.plans = plans
        self.gateway = gateway
        self.catalog = catalog
        self.rate_limits = rate_limits
        self.budgets = budgets
        self.guardrails = guardrails
        self.leases = leases  # the instance's credit leases (None: every call makes its own hold)

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
        cache_directives: CacheDirectives = NO_DIRECTIVES,
        needs: frozenset[str] = frozenset(),
        door: str = "chat",
        assistant_id: str | None = None,
        retrieval: Retrieval | None = None,
    ) -> ChatCall | Replay:
        """Validate, claim the idempotency key, answer from the cache or admit the call. `needs` are the
        capabilities the request needs (images, response_format, ...): the model must have them, and
        a fallback (or an `auto` choice) without them is not used. `door` names the API the call came
        through (chat, messages, responses) in its usage record.

        Raises before anything is charged; a guardrail block (400 guardrail_blocked) before anything
        else, and the rest sees only the masked messages."""
        started = time.perf_counter()
        guard: CallGuard | None = None
        if self.guardrails is not None:
            guard = await self.guardrails.pre_call(principal, messages, prompt_chars(messages))
            messages = guard.messages
        offer = self.plans.get(principal.plan)
        needs = needs | tools.needs(messages, params)
        spec, provider, route_reason, prompt_tokens, counts = await count_off_loop(
            messages, partial(self._choose_and_count, model, messages, offer, needs, params.get("tools"))
        )
        wanted = output_limit(spec, prompt_tokens, max_tokens)
        fallbacks = self.gateway.options(spec)[1:]
        requested = Candidate(spec, wanted, prompt_tokens)
        chain = plan_chain(requested, fallbacks, counts, offer.allows, needs)
        plan = await self.cache.plan(
            principal, spec, messages, params, wanted, cache_opt_in, cache_directives
        )
        lock: IdempotencyLock | None = None
        if idempotency_key is not None:
            claimed = await self.idempotency.begin(principal.user_id, scope, idempotency_key, fingerprint)
            if isinstance(claimed, CallResult):
                return Replay(claimed)
            lock = claimed
        if (answer := await self.cache.lookup(plan)) is not None:
            return await self._serve_cached(
                principal, request_id, spec, answer, lock, on_finish, started, door, guard
            )
        extra = retrieval.credits if retrieval is not None else 0  # the query's embedding, on this hold
        try:
            admission = await ChatAdmission.admit(
                principal,
                payer=self.payer,
                rate_limits=self.rate_limits,
                budgets=self.budgets,
                tokens=prompt_tokens,
                want=chain.worst_case + extra,
                minimum=chain.minimum + extra,
                ref=f"chat:{request_id}",
                leases=self.leases,
            )
        except BaseException:
            await self._free(lock)
            raise
        candidates = chain.within(admission.amount - extra)
        limited = candidates[0].max_tokens < wanted
        asked = Asked(
            principal,
            request_id,
            spec,
            messages,
            params,
            route_reason,
            plan,
            limited,
            started,
            int(time.time()),
            door,
            guard,
            assistant_id,
            retrieval,
        )
        settlement = Settlement(
            asked,
            admission,
            lock,
            on_finish,
            count_text=self.gateway.count_text,
            cache=self.cache,
            usage=self.usage,
            idempotency=self.idempotency,
        )
        return ChatCall(asked, candidates, admission, Serving(spec, provider, prompt_tokens), settlement)

    def _choose_and_count(
        self,
        model: str | None,
        messages: list[dict[str, Any]],
        offer: PlanOffer,
        needs: frozenset[str],
        tool_defs: list[dict[str, Any]] | None,
    ) -> tuple[ModelSpec, Provider, str | None, int, dict[str, int]]:
        """The model (`auto` counts tokens to choose; it must have what the request `needs`), its
        prompt's tokens (tool definitions included) and each fallback's."""
        spec, provider, route_reason = self._model(model, messages, offer, needs)
        ensure_model_allowed(offer, spec.id)
        capabilities.ensure_supported(spec, needs)
        prompt_tokens = self.gateway.count_prompt(spec, messages, tool_defs)
        fallbacks = self.gateway.options(spec)[1:]
        counts = {other.id: self.gateway.count_prompt(other, messages, tool_defs) for other in fallbacks}
        return spec, provider, route_reason, prompt_tokens, counts

    def _model(
        self,
        model: str | None,
        messages: list[dict[str, Any]],
        offer: PlanOffer,
        needs: frozenset[str] = frozenset(),
    ) -> tuple[ModelSpec, Provider, str | None]:
        """The requested model (aliases resolved), or the one `auto` picks among the plan's models that
        take what the request needs, and why."""
        if model is not None and model.lower() == AUTO:
            allowed = capabilities.usable(self.catalog, offer.allows, needs)
            choice = self.gateway.choose_auto(messages, allowed)
            return choice.spec, self.catalog.resolve(choice.spec.id)[1], choice.reason
        spec, provider = self.catalog.resolve(model)
        return spec, provider, None

    async def _serve_cached(
        self,
        principal: Principal,
        request_id: str,
        spec: ModelSpec,
        answer: CachedAnswer,
        lock: IdempotencyLock | None,
        on_finish: OnFinish | None,
        started: float,
        door: str = "chat",
        guard: CallGuard | None = None,
    ) -> Replay:
        try:
            hits = guard.counts() if guard is not None else None
            result = await self.cache.serve(principal, request_id, spec, answer, started, door, hits)
            if guard is not None:  # the cached answer holds placeholders: this call's values go back in
                result.content = guard.restore(result.content)
            if on_finish is not None:
                result.extra = await on_finish(result) or {}
        except BaseException:
            await self._free(lock)
            raise
        if lock is not None:
            await self.idempotency.complete(lock, result)
        return Replay(result, cache_match=answer.match, cache_created=answer.created)

    async def _free(self, lock: IdempotencyLock | None) -> None:
        """Let the client retry with the same Idempotency-Key: nothing was produced."""
        if lock is not None:
            with anyio.CancelScope(shield=True):
                await self.idempotency.release(lock)

    def _answered(self, call: ChatCall, served: Served | None) -> Serving:
        """The model and deployment that answered (the call is charged at their price), first token in."""
        serving = replace(call.serving, first_token_at=time.perf_counter())
        return serving if served is None else self._served_by(call, served, serving)

    def _served_by(self, call: ChatCall, served: Served, serving: Serving) -> Serving:
        tokens = next(
            (c.input_tokens for c in call.chain if c.spec.id == served.spec.id), serving.input_tokens
        )
        return replace(
            serving,
            spec=served.spec,
            provider=self.catalog.providers[served.deployment.provider],
            input_tokens=tokens,
            deployment=served.deployment,
            attempts=served.attempts,
            provider_s=served.waited_s,
        )

    async def complete(self, call: ChatCall) -> CallResult:
        guard = call.asked.guard
        try:
            asked = self.gateway.complete(call.chain, call.asked.messages, call.asked.params)
            completion = await (guard.beside.race(asked) if guard and guard.beside else asked)
        except BaseException as exc:
            if guard is not None and guard.beside is not None:
                guard.beside.cancel()
            with anyio.CancelScope(shield=True):
                await call.finish(call.serving, Outcome(error=exc))
            raise
        call.serving = self._answered(call, completion.served)
        shown, blocked, logprobs = None, None, completion.logprobs
        tool_calls = completion.tool_calls
        if guard is not None:
            blocked = await guard.moderated()  # during_call: the answer waits for the verdict
        if guard is not None and blocked is None and guard.screens_output:
            screened = guard.output(completion.text)
            blocked = screened.blocked.error() if screened.blocked is not None else None
            shown = screened.text
            if shown != completion.text:
                logprobs = None  # the tokens' logprobs would spell out what was masked
            if blocked is None and tool_calls:
                tool_calls, blocked = guard.tool_calls(tool_calls)
        outcome = Outcome(
            completion.text,
            completion.finish_reason,
            completion.usage,
            error=blocked,
            tool_calls=tool_calls if blocked is None else completion.tool_calls,
            logprobs=logprobs,
            shown=shown,
        )
        result = await call.finish(call.serving, outcome)
        if blocked is not None:  # produced, so charged; the answer is refused
            raise blocked_after_output(blocked, result.credits)
        return result

    async def open_stream(self, call: ChatCall) -> ChatStream:
        """Open the upstream stream; the gateway returns it once its first delta is in (failing over
        before that), so a failure before the first token is a plain error and nothing is charged."""
        opened: list[ModelStream] = []  # the upstream, once the gateway has it (to close it on failure)

        async def opening() -> tuple[ModelStream, AsyncIterator[Delta], Delta | None]:
            stream = await self.gateway.open_stream(call.chain, call.asked.messages, call.asked.params)
            opened.append(stream)
            deltas = stream.__aiter__()
            return stream, deltas, await anext(deltas, None)

        guard = call.asked.guard
        try:
            if guard is not None and guard.beside is not None:
                upstream, deltas, first = await guard.beside.race(opening())
            else:
                upstream, deltas, first = await opening()
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                for stream in opened:
                    call.serving = self._served_by(call, stream.served, call.serving)
                    await stream.aclose()
                await call.finish(call.serving, Outcome(error=exc))
            raise
        call.serving = self._answered(call, upstream.served)
        ttl = self._hold_ttl_s
        heartbeat = Heartbeat(partial(call.admission.keep_alive, ttl), every_s=ttl / 3)
        finish = partial(call.finish, call.serving)
        return ChatStream(upstream, deltas, first, finish, heartbeat, call.asked.guard)
