"""Closing a chat call, once: charge what was produced or give everything back, then record it.

Order of work: settle or release the admission (hold, budget, token bucket) -> usage record ->
store a complete answer in the response cache -> `on_finish` (a thread saves the exchange) ->
complete (or free) the Idempotency-Key. Nothing is charged for a call that failed before any
output; a cut or cancelled stream pays for what was produced. The settlement is handed to the
stream wrapper, so nothing below the service calls back up into it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from shared.catalog.catalog import ModelSpec
from shared.chat import records
from shared.chat.admission import ChatAdmission
from shared.chat.caching import ChatCache
from shared.chat.call import Asked, OnFinish, Outcome, Serving
from shared.chat.idempotency import IdempotencyLock, IdempotencyStore
from shared.chat.schemas import CallResult
from shared.chat.tools import ToolCallPart, calls_text
from shared.errors import AppError
from shared.gateway.router import AllProvidersFailed
from shared.gateway.types import Usage
from shared.usage.recorder import UsageRecorder

log = logging.getLogger("chat")

CountText = Callable[[ModelSpec, str], int]


class Settlement:
    def __init__(
        self,
        asked: Asked,
        admission: ChatAdmission,
        lock: IdempotencyLock | None,
        on_finish: OnFinish | None,
        *,
        count_text: CountText,
        cache: ChatCache,
        usage: UsageRecorder,
        idempotency: IdempotencyStore,
    ) -> None:
        self.asked = asked
        self.admission = admission
        self.lock = lock
        self.on_finish = on_finish
        self._count_text = count_text
        self._cache = cache
        self._usage = usage
        self._idempotency = idempotency
        self.result: CallResult | None = None

    @property
    def _retrieval_credits(self) -> int:
        """The query embedding of a call with knowledge: charged with the answer, on the same hold."""
        return self.asked.retrieval.credits if self.asked.retrieval is not None else 0

    async def __call__(self, serving: Serving, outcome: Outcome) -> CallResult:
        """Settle the call served by `serving` as `outcome` ended it; a second call returns the result."""
        if self.result is not None:
            return self.result
        error = outcome.error
        if isinstance(error, AllProvidersFailed):
            serving = replace(serving, attempts=error.attempts)
        usage = outcome.usage
        if usage is None or not usage.reported:
            # The output the provider never counted: the text and what it wrote for its tool calls.
            written = outcome.text + calls_text(outcome.tool_calls)
            usage = Usage(serving.input_tokens, self._count_text(serving.spec, written), False)
        produced = outcome.produced
        if produced:
            # At the serving model's price; the ledger charges at most the hold.
            used = usage.input_tokens + usage.output_tokens
            credits = await self.admission.settle(usage.cost(serving.spec) + self._retrieval_credits, used)
        else:
            credits = 0
            await self.admission.release()
        app_error = _as_app_error(error)
        result = CallResult(
            id=f"chatcmpl-{self.admission.hold_id}",
            created=self.asked.created,
            model=serving.spec.id,
            provider=serving.provider.name,
            content=outcome.text if outcome.shown is None else outcome.shown,
            finish_reason=outcome.finish_reason if error is None else "error",
            input_tokens=usage.input_tokens if produced else 0,
            output_tokens=usage.output_tokens if produced else 0,
            credits=credits,
            outcome=outcome.status,
            error=app_error.body()["error"] if app_error else None,
            route_reason=self.asked.route_reason,
            tool_calls=[ToolCallPart.of(c) for c in outcome.tool_calls] or None,
            logprobs=outcome.logprobs,
        )
        if self.asked.retrieval is not None and produced:
            result.citations = self.asked.retrieval.citations(result.content)
        self.result = result
        await self._record(serving, result, usage, outcome)
        if error is None and not outcome.was_cancelled:
            cacheable = self._cacheable(result, outcome)
            await self._cache.store(self.asked.cache_plan, cacheable, self.asked.spec.id, self.asked.limited)
        if self.on_finish is not None and produced:
            result.extra = await self.on_finish(result) or {}
        if self.lock is not None:
            if produced:
                await self._idempotency.complete(self.lock, result)
            else:
                await self._idempotency.release(self.lock)
        return result

    def _cacheable(self, result: CallResult, outcome: Outcome) -> CallResult:
        """The answer as the response cache may keep it: without this call's restored values."""
        guard, plan = self.asked.guard, self.asked.cache_plan
        if guard is None or plan.key is None or not plan.decision.write:
            return result
        content = guard.for_cache(outcome.text, result.content)
        return result if content == result.content else result.model_copy(update={"content": content})

    async def _record(self, serving: Serving, result: CallResult, usage: Usage, outcome: Outcome) -> None:
        asked = self.asked
        first = serving.first_token_at
        fields = records.chat_fields(
            asked.principal,
            asked.request_id,
            self.admission.hold_id,
            self.admission.wallet_id,
            requested=asked.spec.id,
            model=result.model,
            provider=result.provider,
            deployment=serving.deployment.id if serving.deployment else None,
            attempts=serving.attempts,
            route_reason=asked.route_reason,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            usage=usage,
            credits=result.credits,
            latency_ms=records.ms_since(asked.started, time.perf_counter()),
            ttft_ms=None if first is None else records.ms_since(asked.started, first),
            provider_ms=None if serving.provider_s is None else round(serving.provider_s * 1000, 1),
            outcome=result.outcome,
            error_code=result.error["code"] if result.error else None,
            api=asked.door,
            guardrails=asked.guard.counts() if asked.guard is not None else None,
            assistant_id=asked.assistant_id,
            retrieval_credits=self._retrieval_credits if result.credits else 0,
        )
        guard = asked.guard
        traced = None
        if guard is not None and guard.policy.trace_content:
            # The prompt as the provider saw it, the answer without this call's restored values.
            traced = {"input": asked.messages, "output": guard.for_cache(outcome.text, result.content)}
        leased = self.admission.leased
        if leased is None:
            await records.record(self._usage, log, "model call", fields, traced)
            return
        # A leased call's record goes with its lease's next flush, in the transaction that records the
        # lease's progress; the observers (metrics, traces) are told now.
        leased.record(fields["hold_id"], self._usage.stamped(fields))
        self._usage.tell(fields["hold_id"], fields, traced)
        log.info("model call", extra={"usage": fields})


def _as_app_error(error: BaseException | None) -> AppError | None:
    if error is None or isinstance(error, AppError):
        return error
    if isinstance(error, Exception):
        return AppError("The call failed on our side; nothing was charged.")
    return None
