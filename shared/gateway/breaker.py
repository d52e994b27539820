"""A circuit breaker per deployment, its state in Redis so every instance agrees.

closed     calls go through; failures are counted in a rolling window of `window_s`. `failure_threshold`
           failures inside the window open the breaker.
open       calls are refused for `open_s` (the cool-down). Then the first allow() anywhere becomes the
           half-open probe.
half_open  one probe is in flight, holding a lease of `open_s`; everyone else is refused. The probe's
           success closes the breaker, its failure opens it again for `open_s`. If the probe never
           reports (its instance died), the lease runs out and the next allow() becomes the new probe.

Each operation is one Lua script, so concurrent callers on any instance see one consistent state; the
caller's clock is passed in (tests drive time without sleeping; Cloud Run instances are NTP-synced).

What to report (the router's job): `failure()` only for failures that `retry.classify()` marks as
`provider_fault` (429, 529, 5xx, timeouts, connection errors, rejected credentials), never for a bad
request, a content-policy refusal or a client that went away; `success()` when a call completed.
A success while the breaker is open (a call that started before it opened) changes nothing.

Keys: `{prefix}{deployment}` (a hash: state, until, seq) and `{prefix}{deployment}:f` (a sorted set of
failure times, at most `failure_threshold` members). Both expire: the failure set `window_s` after the
last failure, the state hash `idle_ttl_s` after its last change; a success deletes both, so a healthy
deployment has no keys at all. The deployment id is wrapped in {braces} so both keys hash to the same
Redis Cluster slot.

Redis errors fail open: allow() says True and the failure is logged, so an outage of Redis degrades to
"no breaker" rather than "no service".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Literal, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from shared.telemetry import metrics

State = Literal["closed", "open", "half_open"]

log = logging.getLogger("gateway.breaker")

# Times are unix seconds computed by the caller and passed as strings, so Lua never reformats them.
# KEYS[1] state hash, KEYS[2] failure set. ARGV[1] now, ARGV[2] now + open_s, ARGV[3] state ttl (ms).
# Returns {allowed (0/1), state after, state before}.
_ALLOW = """
local st = redis.call('HMGET', KEYS[1], 'state', 'until')
local state = st[1] or 'closed'
if state == 'closed' then
  return {1, 'closed', 'closed'}
end
local now = tonumber(ARGV[1])
if now < (tonumber(st[2]) or 0) then
  return {0, state, state}
end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'until', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, 'half_open', state}
"""

# Returns {state after, state before}.
_SUCCESS = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'open' then
  return {'open', 'open'}
end
redis.call('DEL', KEYS[1], KEYS[2])
return {'closed', state}
"""

# ARGV[1] now, ARGV[2] now + open_s, ARGV[3] now - window_s, ARGV[4] threshold, ARGV[5] window (ms),
# ARGV[6] state ttl (ms). Returns {state after, state before}.
_FAILURE = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'open' then
  return {'open', 'open'}
end
local function trip()
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  return {'open', state}
end
if state == 'half_open' then
  return trip()
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1] .. ':' .. seq)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return trip()
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'closed', 'closed'}
"""


class Breaker:
    def __init__(
        self,
        redis: Redis,
        failure_threshold: int = 5,
        window_s: float = 30.0,
        open_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        prefix: str = "cb:",
        idle_ttl_s: float = 3600.0,
    ) -> None:
        if failure_threshold < 1 or window_s <= 0 or open_s <= 0:
            raise ValueError("failure_threshold >= 1, window_s > 0 and open_s > 0 are required")
        self._redis = redis
        self._threshold = failure_threshold
        self._window_s = window_s
        self._open_s = open_s
        self._clock = clock
        self._prefix = prefix
        # The state outlives the cool-down and one probe lease even when idle_ttl_s is short; after
        # that an untouched breaker is forgotten (closed), and real traffic re-opens it if needed.
        self._state_ttl_ms = int(max(idle_ttl_s, 2 * open_s + window_s) * 1000)
        self._allow = redis.register_script(_ALLOW)
        self._success = redis.register_script(_SUCCESS)
        self._failure = redis.register_script(_FAILURE)

    def keys(self, deployment_id: str) -> tuple[str, str]:
        """The two Redis keys of a deployment's breaker (state hash, failure set)."""
        base = f"{self._prefix}{{{deployment_id}}}"
        return base, base + ":f"

    async def allow(self, deployment_id: str) -> bool:
        """May a call go to this deployment now? When it returns True for an open breaker whose
        cool-down is over, this caller is the one half-open probe and must report success/failure."""
        try:
            now = self._clock()
            allowed, after, before = await self._allow(
                keys=self.keys(deployment_id), args=[repr(now), repr(now + self._open_s), self._state_ttl_ms]
            )
        except RedisError as exc:
            log.warning(
                "circuit breaker unavailable; allowing the call",
                extra={"deployment": deployment_id, "error": repr(exc)},
            )
            return True
        self._transition(deployment_id, _text(before), _text(after))
        return bool(int(allowed))

    async def success(self, deployment_id: str) -> None:
        """A call to the deployment completed: closes a half-open breaker and forgets counted failures."""
        await self._report(self._success, deployment_id, [])

    async def failure(self, deployment_id: str) -> None:
        """A call failed by the provider's fault (see the module docstring for which failures count)."""
        now = self._clock()
        args: list[str | int] = [
            repr(now),
            repr(now + self._open_s),
            repr(now - self._window_s),
            self._threshold,
            math.ceil(self._window_s * 1000),
            self._state_ttl_ms,
        ]
        await self._report(self._failure, deployment_id, args)

    async def _report(self, script: AsyncScript, deployment_id: str, args: list[str | int]) -> None:
        """Run a state-changing script; a Redis outage only loses the report (the call is already done)."""
        try:
            after, before = await script(keys=self.keys(deployment_id), args=args)
        except RedisError as exc:
            log.warning(
                "circuit breaker unavailable", extra={"deployment": deployment_id, "error": repr(exc)}
            )
            return
        self._transition(deployment_id, _text(before), _text(after))

    async def state(self, deployment_id: str) -> State:
        """The stored state. An open breaker whose cool-down is over stays "open" until someone asks
        allow() and becomes the probe."""
        raw = await self._redis.hget(self.keys(deployment_id)[0], "state")
        state = _text(raw) if raw is not None else "closed"
        if state not in ("closed", "open", "half_open"):
            raise ValueError(f"unexpected breaker state {state!r} for {deployment_id}")
        return cast(State, state)

    def _transition(self, deployment_id: str, before: str, after: str) -> None:
        if before == after:
            return
        metrics.breaker_changed(deployment_id, after)
        level = logging.WARNING if after == "open" else logging.INFO
        log.log(
            level,
            f"circuit breaker {after} for {deployment_id}",
            extra={"deployment": deployment_id, "state": after, "previous": before},
        )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
