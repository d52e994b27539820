"""The path from a request to a model: fallback chain, deployments, breaker, limits, retries.

For a request on model M the chain is M, then M's fallbacks (shared/chat/chain.py builds it, see
below). For each model of the chain, its configured deployments in the balancer's order; a
deployment is skipped while its circuit breaker is open or when its RPM/TPM budget is spent. Each
deployment gets up to `max_attempts` tries, with exponential backoff and full jitter between them
(a provider's Retry-After is a floor; one longer than the policy's maximum moves on at once).

What a failure means (shared.gateway.retry.classify):
- a provider fault (429, 529, 5xx, timeout, connection error, and 401/403 of that deployment's
  key) counts against the deployment's breaker; retryable ones are retried, then the next
  deployment (and then the next model) is tried; an auth failure moves on without a retry;
- anything that is the request's own fault (400, content policy, context window) is raised at
  once: another deployment or model would refuse it too.
When every option is exhausted: UpstreamUnavailable 503 "all_providers_failed", with Retry-After
when a provider said when to come back. Nothing is charged: the chat service voids the hold.

Streams: an attempt returns only once the first delta is in, so a stream that fails before its
first token fails over like any call; once a stream is returned the client has it, and a failure
after that ends the stream (the chat service settles the partial usage). The balancer tracks a
stream's in-flight time and latency up to its first token.

Money (the chat service's side of it, in shared/chat/chain.py): the hold is reserved at the
largest worst case over the chain (when the balance allows; the requested model's minimum is all
that is required), and a fallback is kept in the chain only if its own worst case fits the hold
that was granted. So the serving model's real cost never exceeds the hold, and settle's rule
(charge min(hold, real cost)) never has to cut anything for a fallback.

Every attempt is logged on "gateway.router" (model, deployment, attempt, outcome, delay), counted in the
gateway metrics and traced as a `provider.attempt` span (shared/gateway/observe.py).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from shared.catalog.catalog import Catalog, Deployment
from shared.errors import UpstreamUnavailable
from shared.gateway.calls import Caller, ModelStream
from shared.gateway.errors import translate
from shared.gateway.observe import answered, attempt_span, attempted
from shared.gateway.retry import Failure, RetryPolicy, classify
from shared.gateway.types import Candidate, Completion, Served
from shared.settings import Settings

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class BreakerLike(Protocol):
    async def allow(self, deployment_id: str) -> bool: ...
    async def success(self, deployment_id: str) -> None: ...
    async def failure(self, deployment_id: str) -> None: ...


class BalancerLike(Protocol):
    def order(self, deployments: Sequence[Deployment]) -> list[Deployment]: ...
    async def acquire(self, deployment: Deployment, tokens: int) -> bool: ...
    def track(self, deployment: Deployment) -> AbstractAsyncContextManager[None]: ...


class AllProvidersFailed(UpstreamUnavailable):
    code = "all_providers_failed"
    attempts = 0  # how many calls were made before giving up


class Router:
    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        breaker: BreakerLike,
        balancer: BalancerLike,
        caller: Caller,
        *,
        policy: RetryPolicy,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.breaker = breaker
        self.balancer = balancer
        self.caller = caller
        self.policy = policy
        self.sleep = sleep
        self.rand = rand

    async def complete(
        self, chain: Sequence[Candidate], messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> Completion:
        async def attempt(candidate: Candidate, served: Served) -> Completion:
            return await self.caller.complete(candidate, served, messages, params)

        return await self._route(chain, attempt, stream=False)

    async def open_stream(
        self, chain: Sequence[Candidate], messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> ModelStream:
        async def attempt(candidate: Candidate, served: Served) -> ModelStream:
            return await self.caller.open_stream(
                candidate, served, messages, params, on_failure=self._after_first_token(served)
            )

        return await self._route(chain, attempt, stream=True)

    def _after_first_token(self, served: Served) -> Callable[[BaseException], Awaitable[None]]:
        """What a stream that breaks after its first token reports: a log line, and the deployment's
        breaker hears of a provider fault (the client already has the stream, so nothing fails over)."""

        async def failed(exc: BaseException) -> None:
            failure = classify(exc)
            attempted(served, served.attempts, "failed_mid_stream", failure, None)
            if failure.provider_fault:
                await self.breaker.failure(served.deployment.id)

        return failed

    def _policy(self, candidate: Candidate) -> RetryPolicy:
        if candidate.spec.max_attempts is None:
            return self.policy
        return RetryPolicy(
            max_attempts=candidate.spec.max_attempts,
            base_s=self.policy.base_s,
            cap_s=self.policy.cap_s,
            max_retry_after_s=self.policy.max_retry_after_s,
        )

    async def _route(
        self,
        chain: Sequence[Candidate],
        attempt: Callable[[Candidate, Served], Awaitable[T]],
        stream: bool,
    ) -> T:
        total = 0
        waited = 0.0  # seconds spent on providers: attempts and the waits between them
        retry_after: list[float] = []
        last: Failure | None = None
        for candidate in chain:
            policy = self._policy(candidate)
            tokens = candidate.input_tokens + candidate.max_tokens
            for deployment in self.balancer.order(self.catalog.live_deployments(candidate.spec)):
                tries = 0
                while True:
                    served = Served(candidate.spec, deployment, total + 1)
                    if not await self.breaker.allow(deployment.id):
                        attempted(served, tries + 1, "skipped_breaker_open", None, None)
                        break
                    if not await self.balancer.acquire(deployment, tokens):
                        attempted(served, tries + 1, "skipped_over_limit", None, None)
                        break
                    tries += 1
                    total += 1
                    started = time.perf_counter()
                    try:
                        async with self.balancer.track(deployment):
                            with attempt_span(served, tries):
                                result = await attempt(candidate, served)
                    except Exception as exc:
                        waited += time.perf_counter() - started
                        failure = classify(exc)
                        last = failure
                        if not failure.provider_fault:
                            attempted(served, tries, "refused", failure, None)
                            raise translate(exc, deployment.provider) from exc
                        await self.breaker.failure(deployment.id)
                        if failure.retry_after is not None:
                            retry_after.append(failure.retry_after)
                        delay = policy.delay(tries, failure, self.rand)
                        attempted(served, tries, "failed", failure, delay)
                        if delay is None:
                            break
                        await self.sleep(delay)
                        waited += delay
                        continue
                    waited += time.perf_counter() - started
                    await self.breaker.success(deployment.id)
                    attempted(served, tries, "ok", None, None)
                    return answered(result, chain[0].spec.id, waited)
        raise _exhausted(chain, total, last, retry_after)


def _exhausted(
    chain: Sequence[Candidate], attempts: int, last: Failure | None, retry_after: list[float]
) -> AllProvidersFailed:
    names = ", ".join(c.spec.id for c in chain)
    why = f"the last failure was '{last.kind}'" if last else "every deployment was paused or at its limit"
    headers = {"Retry-After": str(max(1, math.ceil(min(retry_after))))} if retry_after else {}
    error = AllProvidersFailed(
        f"No provider could answer ({names}; {attempts} attempts, {why}). Nothing was charged; "
        "retry later or pick another model.",
        headers=headers,
    )
    error.attempts = attempts
    return error
