"""Picks among a model's deployments (keys, regions, providers) and keeps each within its own RPM/TPM.

order()    best deployment first. "least_inflight": fewest calls in flight from this instance.
           "latency": lowest EWMA latency of successful calls (alpha 0.2); deployments within
           `latency_buffer` (10 %) of the best, and deployments not measured yet, count as tied with
           the best, so the fastest group shares the load and new deployments get measured. Ties are
           broken by in-flight count, then randomly (`rand`), so equal deployments share the load.
acquire()  takes 1 request from the deployment's RPM bucket and `tokens` from its TPM bucket, both or
           neither, in one Lua script. The buckets live in Redis because the limits are the
           provider's, per key, shared by every instance. Pass the tokens the provider will count
           against TPM: the prompt's tokens plus max_tokens. False when either bucket is short.
track()    counts a call in flight while inside; on a normal exit records its duration in the EWMA.

In-flight counts and latencies are kept per process, on purpose: they are read on every request
(a Redis round trip each would cost more than the balancing gains), and each instance balances its
own traffic, which is what in-flight counting needs. The trade-off: one instance does not see the
load another puts on a deployment; the shared RPM/TPM buckets are what keep the sum within limits.

Redis errors fail open: acquire() says True and logs a warning, as the provider's own 429 is still
there to stop us.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("gateway.balancer")

Strategy = Literal["least_inflight", "latency"]
ALPHA = 0.2


class LimitedDeployment(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def rpm(self) -> int | None: ...
    @property
    def tpm(self) -> int | None: ...


D = TypeVar("D", bound=LimitedDeployment)

# Token buckets like shared/limits/ratelimit/limiter.py (capacity = the limit per minute, continuous refill,
# Redis server time), but several at once: all are checked first, then all are taken, or none.
# KEYS[i] bucket i; ARGV[2i-1] its capacity, ARGV[2i] the cost. Returns {1, 0} or {0, index short}.
_TAKE_ALL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local levels = {}
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i - 1])
  local cost = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = capacity
    ts = now
  end
  tokens = math.min(capacity, tokens + math.max(0, now - ts) * capacity / 60000.0)
  if tokens < cost then
    return {0, i}
  end
  levels[i] = tokens
end
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i - 1])
  local tokens = levels[i] - tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((capacity - tokens) * 60000.0 / capacity) + 1000)
end
return {1, 0}
"""


class Balancer:
    def __init__(
        self,
        redis: Redis,
        strategy: Strategy = "least_inflight",
        rand: Callable[[], float] = random.random,
        *,
        clock: Callable[[], float] = time.monotonic,
        latency_buffer: float = 0.1,
        prefix: str = "lb:",
    ) -> None:
        if strategy not in ("least_inflight", "latency"):
            raise ValueError(f"unknown balancing strategy {strategy!r}")
        self._redis = redis
        self.strategy: Strategy = strategy
        self._rand = rand
        self._clock = clock
        self._buffer = latency_buffer
        self._prefix = prefix
        self._take = redis.register_script(_TAKE_ALL)
        self._inflight: dict[str, int] = {}
        self._latency: dict[str, float] = {}

    # --- ordering (per process) ---

    def inflight(self, deployment_id: str) -> int:
        return self._inflight.get(deployment_id, 0)

    def latency(self, deployment_id: str) -> float | None:
        """The EWMA of successful calls' durations in seconds, None before the first one."""
        return self._latency.get(deployment_id)

    def order(self, deployments: Sequence[D]) -> list[D]:
        """The deployments, best first."""
        if len(deployments) < 2:
            return list(deployments)
        if self.strategy == "least_inflight":
            ranked = [((0, 0.0, self.inflight(d.id), self._rand()), d) for d in deployments]
        else:
            known = [lat for d in deployments if (lat := self.latency(d.id)) is not None]
            best = min(known) if known else 0.0
            ranked = []
            for d in deployments:
                lat = self.latency(d.id)
                if lat is None or lat <= best * (1.0 + self._buffer):
                    group, metric = 0, 0.0
                else:
                    group, metric = 1, lat
                ranked.append(((group, metric, self.inflight(d.id), self._rand()), d))
        ranked.sort(key=lambda pair: pair[0])
        return [d for _, d in ranked]

    def track(
        self, deployment: LimitedDeployment, *, measure: bool = True
    ) -> AbstractAsyncContextManager[None]:
        """`async with balancer.track(d): ...` around a call. measure=False counts it in flight but
        leaves its duration out (e.g. to record time to first token with record_latency instead)."""
        return self._track(deployment.id, measure)

    @asynccontextmanager
    async def _track(self, deployment_id: str, measure: bool) -> AsyncIterator[None]:
        self._inflight[deployment_id] = self._inflight.get(deployment_id, 0) + 1
        started = self._clock()
        try:
            yield
        finally:
            left = self._inflight[deployment_id] - 1
            if left:
                self._inflight[deployment_id] = left
            else:
                del self._inflight[deployment_id]
        # Reached only when the body did not raise: failures say nothing about speed.
        if measure:
            self.record_latency(deployment_id, self._clock() - started)

    def record_latency(self, deployment_id: str, seconds: float) -> None:
        previous = self._latency.get(deployment_id)
        sample = max(0.0, seconds)
        self._latency[deployment_id] = sample if previous is None else previous + ALPHA * (sample - previous)

    # --- provider limits (shared through Redis) ---

    def keys(self, deployment_id: str) -> tuple[str, str]:
        """The Redis keys of the deployment's RPM and TPM buckets."""
        base = f"{self._prefix}{{{deployment_id}}}"
        return base + ":rpm", base + ":tpm"

    async def acquire(self, deployment: LimitedDeployment, tokens: int) -> bool:
        """Take one request and `tokens` tokens from the deployment's buckets (both or neither)."""
        if tokens < 0:
            raise ValueError("tokens must not be negative")
        rpm_key, tpm_key = self.keys(deployment.id)
        keys: list[str] = []
        args: list[int] = []
        if deployment.rpm is not None:
            keys.append(rpm_key)
            args += [_positive(deployment.rpm, "rpm"), 1]
        if deployment.tpm is not None:
            keys.append(tpm_key)
            args += [_positive(deployment.tpm, "tpm"), tokens]
        if not keys:
            return True
        try:
            taken, short = await self._take(keys=keys, args=args)
        except RedisError as exc:
            log.warning(
                "deployment limits unavailable; allowing the call",
                extra={"deployment": deployment.id, "error": repr(exc)},
            )
            return True
        if not int(taken):
            limit = "rpm" if keys[int(short) - 1] == rpm_key else "tpm"
            log.debug(
                f"deployment {deployment.id} is at its {limit} limit",
                extra={"deployment": deployment.id, "limit": limit, "tokens": tokens},
            )
            return False
        return True


def _positive(limit: int, name: str) -> int:
    if limit <= 0:
        raise ValueError(f"a deployment's {name} must be positive (or None for no limit)")
    return limit
