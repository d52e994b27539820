"""A token-bucket rate limiter in Redis: one atomic Lua script per hit, so concurrent instances share one
bucket without races. Buckets refill continuously at limit/60 tokens per second up to `limit` tokens."""

from __future__ import annotations

from redis.asyncio import Redis

# KEYS[1] bucket; ARGV[1] capacity (= the limit per minute), ARGV[2] cost.
# Time comes from the Redis server, so instances with skewed clocks still agree.
_BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local rate = capacity / 60000.0
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait_ms = math.ceil((cost - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return {allowed, wait_ms}
"""


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_BUCKET_SCRIPT)

    async def hit(self, key: str, limit_per_minute: int, cost: int = 1) -> tuple[bool, float]:
        """Take `cost` tokens from the bucket `key`: (allowed, seconds until it would be allowed).

        A denied hit takes nothing. A cost above the limit can never be allowed; its retry-after is how long
        the bucket would need to hold that many tokens, which it never will."""
        if limit_per_minute <= 0:
            raise ValueError("limit_per_minute must be positive")
        if cost < 0:
            raise ValueError("cost must not be negative")
        allowed, wait_ms = await self._script(keys=[self._prefix + key], args=[limit_per_minute, cost])
        return bool(int(allowed)), int(wait_ms) / 1000.0

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
