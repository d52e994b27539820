"""Several token buckets taken from in one atomic Lua script (the repository of the rate limits).

Each bucket holds up to `capacity` tokens and refills continuously at capacity/60 per second, so a
capacity is a per-minute limit. One script call checks every bucket it is given and takes from all of
them or from none, so a request refused by its API key's bucket does not use up its user's.

Modes:
- take:  allowed when every bucket holds at least its cost (a cost of 0 only checks the bucket is not in
         debt); a refused call takes nothing.
- debt:  allowed when every bucket holds min(cost, capacity); then the whole cost is taken, so a cost
         larger than the bucket runs once the bucket is full and leaves it in debt (negative).
- force: always takes the cost (a negative cost gives tokens back, up to the capacity). Used to charge
         the tokens a call really used once it is known.

A bucket remembers its capacity: when a call brings a larger one (the plan was upgraded), the difference
is added at once, so an upgrade applies to the very next request instead of after a refill; a smaller one
(a downgrade) only caps what is left.

Time is the Redis server's clock, so instances with skewed clocks agree; tests pass `now_ms` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

Mode = Literal["take", "debt", "force"]

# KEYS: the buckets. ARGV[1] now in ms ('' = the Redis clock), ARGV[2] mode, then capacity and cost
# per bucket. Returns {allowed, wait_ms, tokens_1, full_ms_1, tokens_2, full_ms_2, ...}; tokens are
# floored (they may be negative), full_ms is how long until the bucket is full again.
_SCRIPT = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local mode = ARGV[2]
local n = #KEYS
local tokens, caps, costs = {}, {}, {}
local allowed, wait = 1, 0
for i = 1, n do
  local cap = tonumber(ARGV[1 + 2 * i])
  local cost = tonumber(ARGV[2 + 2 * i])
  local rate = cap / 60000.0
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts', 'cap')
  local tk, ts, was = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
  if tk == nil or ts == nil then
    tk, ts = cap, now
  elseif was ~= nil and cap > was then
    tk = tk + (cap - was)
  end
  tk = math.min(cap, tk + math.max(0, now - ts) * rate)
  local need = cost
  if mode == 'debt' then need = math.min(cost, cap) end
  if mode ~= 'force' and tk < need then
    allowed = 0
    wait = math.max(wait, math.ceil((need - tk) / rate))
  end
  tokens[i], caps[i], costs[i] = tk, cap, cost
end
local out = {allowed, wait}
for i = 1, n do
  local tk = tokens[i]
  if allowed == 1 then tk = math.min(caps[i], tk - costs[i]) end
  local full = math.ceil((caps[i] - tk) / (caps[i] / 60000.0))
  redis.call('HSET', KEYS[i], 'tokens', tostring(tk), 'ts', tostring(now), 'cap', tostring(caps[i]))
  redis.call('PEXPIRE', KEYS[i], full + 1000)
  out[#out + 1] = math.floor(tk)
  out[#out + 1] = full
end
return out
"""


@dataclass(frozen=True)
class Bucket:
    key: str
    capacity: int
    cost: int


@dataclass(frozen=True)
class BucketState:
    """A bucket after the call: `remaining` may be negative (debt); `reset_s` is the time until it is full."""

    key: str
    limit: int
    remaining: int
    reset_s: float


@dataclass(frozen=True)
class Taken:
    allowed: bool
    retry_after_s: float
    states: list[BucketState]


class TokenBuckets:
    def __init__(self, redis: Redis, prefix: str = "rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)

    async def take(self, buckets: list[Bucket], mode: Mode = "take", now_ms: int | None = None) -> Taken:
        if not buckets:
            return Taken(True, 0.0, [])
        for bucket in buckets:
            if bucket.capacity <= 0:
                raise ValueError("a bucket's capacity must be positive")
            if mode != "force" and bucket.cost < 0:
                raise ValueError("a cost may only be negative in force mode")
        args: list[str | int] = ["" if now_ms is None else now_ms, mode]
        for bucket in buckets:
            args += [bucket.capacity, bucket.cost]
        raw = await self._script(keys=[self._prefix + b.key for b in buckets], args=args)
        values = [int(v) for v in raw]
        states = [
            BucketState(b.key, b.capacity, values[2 + 2 * i], values[3 + 2 * i] / 1000.0)
            for i, b in enumerate(buckets)
        ]
        return Taken(bool(values[0]), values[1] / 1000.0, states)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


def seconds_header(seconds: float) -> str:
    """Whole seconds, rounded up, for Retry-After (at least 1 when there is anything to wait for)."""
    return str(max(1, math.ceil(seconds))) if seconds > 0 else "0"
