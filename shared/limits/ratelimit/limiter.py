"""One token bucket per key (the per-address limit's original interface), on top of buckets.py: buckets
refill continuously at limit/60 tokens per second up to `limit` tokens, in one atomic Lua script per hit,
so concurrent instances share one bucket without races."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.limits.ratelimit.buckets import Bucket, TokenBuckets


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "rl:") -> None:
        self._buckets = TokenBuckets(redis, prefix)

    async def hit(self, key: str, limit_per_minute: int, cost: int = 1) -> tuple[bool, float]:
        """Take `cost` tokens from the bucket `key`: (allowed, seconds until it would be allowed).

        A denied hit takes nothing. A cost above the limit can never be allowed; its retry-after is how long
        the bucket would need to hold that many tokens, which it never will."""
        if limit_per_minute <= 0:
            raise ValueError("limit_per_minute must be positive")
        if cost < 0:
            raise ValueError("cost must not be negative")
        taken = await self._buckets.take([Bucket(key, limit_per_minute, cost)])
        return taken.allowed, taken.retry_after_s

    async def reset(self, key: str) -> None:
        await self._buckets.reset(key)
