"""A metered embedding call: check everything, hold the worst case, call the provider, settle what it read.

Order of work, as for chat (docs/architecture.md): validate the inputs, the model (404), the plan's
allowed models (403), `dimensions`, the input count and every input's tokens (400) -> admission through
the chat's ChatAdmission (the tokens-per-minute bucket, the spend budget and the credit hold via the
Payer, together) -> the provider through the gateway (litellm) -> settle at the catalog's price for the
tokens the provider reports (our count when it reports none), or release everything when it failed ->
one usage record (feature `embeddings`). A request refused before the admission changes nothing.

The hold is our token count plus a quarter and two tokens per input: providers' tokenizers differ from
ours (a BERT model adds [CLS] and [SEP]), and the ledger never charges more than the hold.
No Idempotency-Key: the answer is the vectors, too large to keep per request, and a retried embedding
call has no effect beyond its (small) charge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

import anyio

from shared.auth.schemas import Principal
from shared.catalog.embeddings import EmbeddingCatalog, EmbeddingModel
from shared.chat import records
from shared.chat.admission import ChatAdmission
from shared.embeddings.schemas import (
    EmbeddingItem,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
    encode,
    usd,
)
from shared.errors import AppError, BadRequest
from shared.gateway.embeddings import Embedded, EmbeddingCaller
from shared.limits.budgets.service import Budgets
from shared.limits.ratelimit.service import RateLimits
from shared.plans.offers import PlanOffers, ensure_model_allowed
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder

log = logging.getLogger("embeddings")

# Inputs longer than this in all are counted in a worker thread, as chat prompts are.
OFF_LOOP_CHARS = 16_000
Counter = Callable[[EmbeddingModel, str], int]


def worst_case_tokens(estimate: int, inputs: int) -> int:
    return estimate + estimate // 4 + 2 * inputs


class EmbeddingService:
    def __init__(
        self,
        *,
        catalog: EmbeddingCatalog,
        caller: EmbeddingCaller,
        count: Counter,
        payer: Payer,
        usage: UsageRecorder,
        plans: PlanOffers,
        rate_limits: RateLimits | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        self.catalog = catalog
        self.caller = caller
        self.count = count
        self.payer = payer
        self.usage = usage
        self.plans = plans
        self.rate_limits = rate_limits
        self.budgets = budgets

    async def create(
        self, principal: Principal, request_id: str, body: EmbeddingRequest
    ) -> EmbeddingResponse:
        started = time.perf_counter()
        texts = body.texts()
        model = self.catalog.model(body.model)
        ensure_model_allowed(self.plans.get(principal.plan), model.id)
        check_request(model, len(texts), body.dimensions)
        counts = await self._counts(model, texts)
        estimate = sum(counts)
        admission = await ChatAdmission.admit(
            principal,
            payer=self.payer,
            rate_limits=self.rate_limits,
            budgets=self.budgets,
            tokens=estimate,
            want=model.cost(worst_case_tokens(estimate, len(texts))),
            minimum=model.cost(estimate),
            ref=f"embeddings:{request_id}",
        )
        call = _Call(principal, request_id, model, admission, started, len(texts))
        try:
            embedded = await self.caller.embed(model, texts, body.dimensions, body.user)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await admission.release()
                await self._record(call, estimate, False, 0, exc)
            raise
        tokens = embedded.prompt_tokens or estimate
        credits = await admission.settle(model.cost(tokens), tokens)
        await self._record(call, tokens, embedded.prompt_tokens is not None, credits, None)
        return _answer(model, embedded, body.encoding_format, tokens, credits)

    async def vector_for(self, principal: Principal, model_id: str, text: str) -> tuple[list[float], int]:
        """One text's vector and its price in credits, unmetered: for a caller that charges it on a hold of
        its own (a chat call's retrieval: shared/knowledge/retrieval.py). Checks as `create` does."""
        model = self.catalog.model(model_id)
        ensure_model_allowed(self.plans.get(principal.plan), model.id)
        (estimate,) = await self._counts(model, [text])
        embedded = await self.caller.embed(model, [text], None, None)
        return embedded.vectors[0], model.cost(embedded.prompt_tokens or estimate)

    async def _counts(self, model: EmbeddingModel, texts: list[str]) -> list[int]:
        """Every input's tokens (off the event loop when they are long); one over the limit is a 400."""
        count = partial(_count_all, self.count, model, texts)
        counts = count() if sum(map(len, texts)) < OFF_LOOP_CHARS else await anyio.to_thread.run_sync(count)
        for index, tokens in enumerate(counts):
            if tokens > model.max_input_tokens:
                raise BadRequest(
                    f"`input[{index}]` has about {tokens} tokens; {model.id} takes at most "
                    f"{model.max_input_tokens} per input. Split it.",
                    code="input_too_long",
                )
        return counts

    async def _record(
        self, call: _Call, tokens: int, reported: bool, credits: int, error: BaseException | None
    ) -> None:
        app_error = error if isinstance(error, AppError) else None
        outcome = "ok" if error is None else "error" if isinstance(error, Exception) else "cancelled"
        fields = records.chat_fields(
            call.principal,
            call.request_id,
            call.admission.hold_id,
            call.admission.wallet_id,
            requested=call.model.id,
            model=call.model.id,
            provider=call.model.provider,
            input_tokens=tokens if error is None else 0,
            output_tokens=0,
            credits=credits,
            outcome=outcome,
            latency_ms=records.ms_since(call.started, time.perf_counter()),
            ttft_ms=None,
            attempts=1,
            error_code=app_error.code if app_error else ("internal_error" if error else None),
        )
        fields.update(feature="embeddings", usage_reported=reported, inputs=call.inputs)
        await records.record(self.usage, log, "embedding call", fields)


class _Call:
    """What the usage record needs to know about the call."""

    def __init__(
        self,
        principal: Principal,
        request_id: str,
        model: EmbeddingModel,
        admission: ChatAdmission,
        started: float,
        inputs: int,
    ) -> None:
        self.principal = principal
        self.request_id = request_id
        self.model = model
        self.admission = admission
        self.started = started
        self.inputs = inputs


def check_request(model: EmbeddingModel, inputs: int, dimensions: int | None) -> None:
    """The limits of the model's catalog entry that need no token count (400 before anything is held)."""
    if inputs > model.max_inputs:
        raise BadRequest(
            f"{inputs} inputs in one request; {model.id} takes at most {model.max_inputs}. Send them "
            "in several requests.",
            code="too_many_inputs",
        )
    if dimensions is None:
        return
    if not model.dimensions_adjustable:
        raise BadRequest(
            f"{model.id} makes {model.dimensions}-dimension vectors and cannot make fewer; "
            "leave out `dimensions`.",
            code="dimensions_not_supported",
        )
    if dimensions > model.dimensions:
        raise BadRequest(
            f"`dimensions` must be at most {model.dimensions} for {model.id}.", code="invalid_dimensions"
        )


def _count_all(count: Counter, model: EmbeddingModel, texts: list[str]) -> list[int]:
    return [count(model, text) for text in texts]


def _answer(
    model: EmbeddingModel, embedded: Embedded, encoding_format: str, tokens: int, credits: int
) -> EmbeddingResponse:
    data = [
        EmbeddingItem(index=i, embedding=encode(vector, encoding_format))
        for i, vector in enumerate(embedded.vectors)
    ]
    usage = EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens, credits=credits, cost=usd(credits))
    return EmbeddingResponse(data=data, model=model.id, usage=usage)
