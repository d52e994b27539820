"""The response cache in the chat path: look up before any credit is reserved, store full answers.

A hit never reserves the worst case and never reaches a provider: it is charged
`cache_hit_price_percent` of what the original answer would cost today (0 by default: free),
recorded as a usage record with outcome "cache_hit", and completes the Idempotency-Key like any
answer. Only a complete answer from the requested model itself is stored (not a fallback's, not an
error, a cut or a cancelled stream, not one cut short by the caller's balance).

Whose cache: the caller's wallet, or inside a workspace wallet the member's own part of it, unless the
workspace shares its cache (`share_response_cache`, read from the workspace for each cacheable request so
an admin's change applies at once). Both the exact and the semantic layer key by that tenant.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from shared.auth.schemas import Principal
from shared.cache.keys import (
    CacheDecision,
    CacheDirectives,
    CacheKey,
    cache_key,
    cache_tenant,
    decide_for,
    storable,
)
from shared.cache.pricing import cache_hit_credits
from shared.cache.types import Cache, CachedAnswer
from shared.catalog.catalog import ModelSpec
from shared.chat import records
from shared.chat.schemas import CallResult
from shared.settings import Settings
from shared.spending.payer import Payer
from shared.telemetry import metrics, tracing
from shared.usage.recorder import UsageRecorder

log = logging.getLogger("chat.cache")


@dataclass(frozen=True)
class CachePlan:
    """What the cache may do for one request: `key` is None when it may neither read nor write."""

    decision: CacheDecision
    key: CacheKey | None

    @property
    def status(self) -> str:
        return self.decision.status


BYPASS = CachePlan(CacheDecision(read=False, write=False, reason="disabled"), None)


class CacheSharing(Protocol):
    """Whether a workspace's members share the response cache (shared/workspaces/service.py)."""

    async def shares_response_cache(self, workspace_id: str) -> bool: ...


class ChatCache:
    def __init__(
        self,
        cache: Cache | None,
        payer: Payer,
        usage: UsageRecorder,
        settings: Settings,
        sharing: CacheSharing | None = None,
    ) -> None:
        """Without `sharing`, no workspace shares its cache: every member keeps their own."""
        self.cache = cache
        self.payer = payer
        self.usage = usage
        self.settings = settings
        self.sharing = sharing

    async def tenant(self, principal: Principal) -> str:
        workspace = principal.workspace_id
        shared = False
        if workspace is not None and self.sharing is not None:
            shared = await self.sharing.shares_response_cache(workspace)
        return cache_tenant(principal.wallet_id, principal.user_id, workspace, shared)

    async def plan(
        self,
        principal: Principal,
        spec: ModelSpec,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        max_tokens: int,
        opt_in: bool,
        directives: CacheDirectives,
    ) -> CachePlan:
        if self.cache is None:
            return BYPASS
        decision = decide_for(params, opt_in, directives)
        if not (decision.read or decision.write):
            return CachePlan(decision, None)
        tenant = await self.tenant(principal)
        return CachePlan(decision, cache_key(tenant, spec.id, messages, params, max_tokens))

    async def lookup(self, plan: CachePlan) -> CachedAnswer | None:
        if self.cache is None or plan.key is None or not plan.decision.read:
            return None
        with tracing.span("cache.lookup") as current:
            found = await self.cache.get(plan.key)
            current.set_attribute("cache.hit", found is not None)
        metrics.CACHE_LOOKUPS.add(1, {"hit": found is not None})
        return found

    async def serve(
        self,
        principal: Principal,
        request_id: str,
        spec: ModelSpec,
        answer: CachedAnswer,
        started: float,
        door: str = "chat",
        guardrails: list[dict[str, Any]] | None = None,
    ) -> CallResult:
        """Charge the hit (free by default) and record it; the caller completes its idempotency lock."""
        hold_id = uuid.uuid4().hex
        original = spec.cost(answer.input_tokens, answer.output_tokens)
        charge = cache_hit_credits(original, self.settings.cache_hit_price_percent)
        wallet = principal.wallet_id
        if charge > 0:
            ref = f"chat-cache:{request_id}"
            hold = await self.payer.reserve(
                wallet, hold_id, want=charge, minimum=charge, ref=ref, spender=principal.user_id
            )
            wallet = hold.wallet_id
            charge = (await self.payer.settle(wallet, hold_id, charge)).charged
        result = CallResult(
            id=f"chatcmpl-{hold_id}",
            created=int(time.time()),
            model=answer.model,
            provider=answer.provider,
            content=answer.text,
            finish_reason=answer.finish_reason,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            credits=charge,
            outcome="cache_hit",
        )
        latency = records.ms_since(started, time.perf_counter())
        fields = records.chat_fields(
            principal,
            request_id,
            hold_id,
            wallet,
            requested=spec.id,
            model=answer.model,
            provider=answer.provider,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            credits=charge,
            latency_ms=latency,
            ttft_ms=latency,
            outcome="cache_hit",
            api=door,
            guardrails=guardrails,
        )
        fields.update(
            cache_match=answer.match, cache_similarity=answer.similarity, cache_created=answer.created
        )
        await records.record(self.usage, log, "cache hit", fields)
        return result

    async def store(self, plan: CachePlan, result: CallResult, requested: str, limited: bool) -> None:
        """Keep a complete answer of the requested model for the next identical request."""
        if self.cache is None or plan.key is None or not plan.decision.write:
            return
        if result.model != requested or not storable(
            result.outcome, result.finish_reason, result.content, limited
        ):
            return
        answer = CachedAnswer(
            text=result.content,
            finish_reason=result.finish_reason,
            model=result.model,
            provider=result.provider,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            created=result.created,
        )
        await self.cache.put(plan.key, answer)
