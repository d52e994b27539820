"""One chat call in parts: what was asked, the route and the model serving it, the admission, the outcome.

Only `ChatCall.serving` changes, once, when the gateway says which model and deployment answered (a
fallback may serve); everything else is fixed when the call is admitted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from shared.auth.schemas import Principal
from shared.catalog.catalog import Deployment, ModelSpec, Provider
from shared.chat.admission import ChatAdmission
from shared.chat.caching import CachePlan
from shared.chat.guard import CallGuard
from shared.chat.schemas import CallResult
from shared.gateway.types import Candidate, ToolCall, Usage
from shared.knowledge.retrieval import Retrieval

OnFinish = Callable[[CallResult], Awaitable[dict[str, Any] | None]]
# Closes a call served by `Serving` as `Outcome` ended it, once; later calls return the same result.
Finish = Callable[["Serving", "Outcome"], Awaitable[CallResult]]


@dataclass(frozen=True)
class Asked:
    """What was asked, once validated: the requested model (after `auto` and aliases) and its input."""

    principal: Principal
    request_id: str
    spec: ModelSpec
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    route_reason: str | None  # why `auto` chose the model
    cache_plan: CachePlan
    limited: bool  # the balance cut the output limit below what the request asked for
    started: float  # time.perf_counter() when the request came in
    created: int  # unix seconds, the response's `created`
    door: str = "chat"  # the API the call came through (chat, messages, responses): its usage record's `api`
    guard: CallGuard | None = None  # the guardrails of the call (shared/chat/guard.py); None: unscreened
    assistant_id: str | None = None  # the assistant the call answered as (its usage record names it)
    retrieval: Retrieval | None = None  # the excerpts of the caller's files, and their query's price


@dataclass(frozen=True)
class Serving:
    """The model serving the call (the requested one until the gateway answers) and how it was reached;
    the call is charged at its price."""

    spec: ModelSpec
    provider: Provider
    input_tokens: int  # the prompt at this model's tokenizer
    deployment: Deployment | None = None
    attempts: int = 0
    first_token_at: float | None = None
    provider_s: float | None = None  # the gateway's Served.waited_s: time spent on providers


@dataclass(frozen=True)
class Outcome:
    """How the provider call ended: what reached us, and the error or cancellation that cut it."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    error: BaseException | None = None
    cancelled: bool = False
    tool_calls: tuple[ToolCall, ...] = ()  # the calls that reached us (a cut stream: what came)
    logprobs: dict[str, Any] | None = None
    # What the client was shown when the guardrails screened the output (masked, restored, or cut at a
    # block); None: `text` as it came. `text` is what the provider produced, and what is charged.
    shown: str | None = None
    # Why a cancelled stream was cut, when we cut it rather than the client leaving: `client_stalled` (the
    # client stopped reading for STREAM_STALL_S). It is the usage record's outcome.
    cut_by: Literal["client_stalled"] | None = None

    @property
    def was_cancelled(self) -> bool:
        return self.cancelled or isinstance(self.error, anyio.get_cancelled_exc_class())

    @property
    def produced(self) -> bool:
        """Pay for what was produced: a full answer, or the part of one that reached us."""
        return bool(self.text or self.tool_calls) or (self.error is None and not self.was_cancelled)

    @property
    def status(self) -> Literal["ok", "partial", "cancelled", "client_stalled", "error"]:
        if self.was_cancelled:
            return self.cut_by or "cancelled"
        if self.error is None:
            return "ok"
        return "partial" if self.text or self.tool_calls else "error"


@dataclass
class ChatCall:
    """An admitted call: the provider has not been called yet. `finish` closes it (once)."""

    asked: Asked
    chain: list[Candidate]  # the models that may serve it, the requested one first
    admission: ChatAdmission
    serving: Serving
    finish: Finish  # shared/chat/settlement.py's Settlement

    @property
    def id(self) -> str:
        return f"chatcmpl-{self.admission.hold_id}"


@dataclass(frozen=True)
class Replay:
    """A stored answer: an Idempotency-Key replay, or a response-cache hit (`cache_match` set)."""

    result: CallResult
    cache_match: str | None = None
    cache_created: int | None = None
