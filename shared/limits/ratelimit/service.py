"""Per-user and per-API-key limits on model calls, from the caller's plan: requests per minute and tokens
per minute, each a token bucket in Redis (buckets.py).

- `check_request` (the API dependency of every model route) takes one request from the user's and the
  key's request buckets and checks that their token buckets are not in debt; it returns the state for the
  X-RateLimit-* headers, or raises 429.
- `admit_tokens` (the chat service, before the provider call) takes the call's estimated tokens.
- `record_tokens` (after the call) charges the difference between the real usage and the estimate; it may
  leave the bucket in debt, which makes the caller's next request wait.

Redis being unreachable lets calls through (logged): the limits protect capacity, the credit ledger
protects money, and an outage of one should not stop the product.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.limits.caller import Caller
from shared.limits.ratelimit.buckets import Bucket, BucketState, Mode, Taken, TokenBuckets, seconds_header
from shared.limits.ratelimit.errors import RequestsRateLimited, TokensRateLimited
from shared.plans.limits import Plan, Plans

log = logging.getLogger(__name__)


def _tightest(states: list[BucketState]) -> BucketState | None:
    """The bucket a client should pace itself by: the fewest remaining, then the lowest limit."""
    return min(states, key=lambda s: (s.remaining, s.limit), default=None)


def _duration(seconds: float) -> str:
    """OpenAI's reset format: "850ms", "12s", "1m30s"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


@dataclass(frozen=True)
class RateLimitState:
    """What the X-RateLimit-* headers report: the tightest request and token bucket of the caller."""

    requests: BucketState | None
    tokens: BucketState | None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for kind, state in (("Requests", self.requests), ("Tokens", self.tokens)):
            if state is not None:
                headers[f"X-RateLimit-Limit-{kind}"] = str(state.limit)
                headers[f"X-RateLimit-Remaining-{kind}"] = str(max(0, state.remaining))
                headers[f"X-RateLimit-Reset-{kind}"] = _duration(state.reset_s)
        return headers


class RateLimits:
    def __init__(self, redis: Redis, plans: Plans) -> None:
        self._buckets = TokenBuckets(redis)
        self._plans = plans

    def plan(self, principal: Caller) -> Plan:
        return self._plans.get(principal.plan)

    async def check_request(self, principal: Caller, now_ms: int | None = None) -> RateLimitState:
        """Take one request; raises RequestsRateLimited (429) when a request or token bucket is empty."""
        plan = self.plan(principal)
        buckets = _requests(principal, plan, 1) + _tokens(principal, plan, 0)
        taken = await self._take(buckets, "take", now_ms)
        if taken is None:
            return RateLimitState(None, None)
        state = _state(taken)
        if not taken.allowed:
            wait = seconds_header(taken.retry_after_s)
            raise RequestsRateLimited(
                f"Rate limit of the {plan.name!r} plan reached; retry in {wait} s, or upgrade the plan.",
                headers={**state.headers(), "Retry-After": wait},
            )
        return state

    async def admit_tokens(self, principal: Caller, estimate: int, now_ms: int | None = None) -> None:
        """Take the estimated tokens of a call (prompt + expected output) before the provider is called.

        Raises TokensRateLimited (429). A call larger than the plan's whole minute runs once the bucket is
        full and leaves it in debt."""
        plan = self.plan(principal)
        taken = await self._take(_tokens(principal, plan, max(0, estimate)), "debt", now_ms)
        if taken is None or taken.allowed:
            return
        wait = seconds_header(taken.retry_after_s)
        raise TokensRateLimited(
            f"Token rate limit of the {plan.name!r} plan reached; retry in {wait} s, send a shorter "
            "request, or upgrade the plan.",
            headers={**_state(taken).headers(), "Retry-After": wait},
        )

    async def record_tokens(self, principal: Caller, extra: int, now_ms: int | None = None) -> None:
        """Charge `extra` more tokens after the call (real usage minus the estimate; negative gives back)."""
        if extra == 0:
            return
        await self._take(_tokens(principal, self.plan(principal), extra), "force", now_ms)

    async def _take(self, buckets: list[Bucket], mode: Mode, now_ms: int | None) -> Taken | None:
        if not buckets:
            return None
        try:
            return await self._buckets.take(buckets, mode, now_ms)
        except RedisError:
            log.warning("rate limit skipped: redis unavailable", exc_info=True)
            return None


# Every bucket of a user (and of the user's keys) carries the user's hash tag, so one script call's keys
# live in one slot of a Redis Cluster.
def _requests(principal: Caller, plan: Plan, cost: int) -> list[Bucket]:
    buckets = []
    tag = f"{{u:{principal.user_id}}}"
    if plan.requests_per_minute:
        buckets.append(Bucket(f"{tag}:rpm:user", plan.requests_per_minute, cost))
    if principal.key_id and plan.key_requests_per_minute:
        buckets.append(Bucket(f"{tag}:rpm:key:{principal.key_id}", plan.key_requests_per_minute, cost))
    return buckets


def _tokens(principal: Caller, plan: Plan, cost: int) -> list[Bucket]:
    buckets = []
    tag = f"{{u:{principal.user_id}}}"
    if plan.tokens_per_minute:
        buckets.append(Bucket(f"{tag}:tpm:user", plan.tokens_per_minute, cost))
    if principal.key_id and plan.key_tokens_per_minute:
        buckets.append(Bucket(f"{tag}:tpm:key:{principal.key_id}", plan.key_tokens_per_minute, cost))
    return buckets


def _state(taken: Taken) -> RateLimitState:
    requests = [s for s in taken.states if ":rpm:" in s.key]
    tokens = [s for s in taken.states if ":tpm:" in s.key]
    return RateLimitState(_tightest(requests), _tightest(tokens))
