"""The token bucket, against the real Redis the test runner starts (REDIS_URL)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from shared.limits.ratelimit.limiter import RateLimiter

pytestmark = pytest.mark.anyio


@pytest.fixture
def limiter(redis: Redis) -> RateLimiter:
    return RateLimiter(redis)


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_a_full_bucket_allows_the_limit_then_denies(limiter: RateLimiter) -> None:
    k = key()
    results = [await limiter.hit(k, 5) for _ in range(5)]
    assert all(allowed for allowed, _ in results)
    assert all(wait == 0 for _, wait in results)
    allowed, wait = await limiter.hit(k, 5)
    assert not allowed
    # One token refills every 60/5 = 12 s.
    assert 11.0 < wait <= 12.0


async def test_tokens_refill_continuously(limiter: RateLimiter) -> None:
    k = key()
    assert (await limiter.hit(k, 600, cost=600))[0]
    allowed, wait = await limiter.hit(k, 600)
    assert not allowed
    assert 0 < wait <= 0.1  # 10 tokens a second
    await asyncio.sleep(wait + 0.05)
    assert (await limiter.hit(k, 600))[0]


async def test_a_denied_hit_takes_nothing(limiter: RateLimiter) -> None:
    k = key()
    assert (await limiter.hit(k, 60, cost=50))[0]
    allowed, wait = await limiter.hit(k, 60, cost=20)
    assert not allowed
    assert 9.0 < wait <= 10.0  # 10 more tokens at 1 a second
    assert (await limiter.hit(k, 60, cost=10))[0]


async def test_buckets_are_independent(limiter: RateLimiter) -> None:
    a, b = key(), key()
    assert (await limiter.hit(a, 1))[0]
    assert not (await limiter.hit(a, 1))[0]
    assert (await limiter.hit(b, 1))[0]


async def test_concurrent_hits_never_exceed_the_limit(limiter: RateLimiter) -> None:
    k = key()
    results = await asyncio.gather(*(limiter.hit(k, 10) for _ in range(50)))
    assert sum(allowed for allowed, _ in results) == 10


async def test_a_cost_above_the_limit_is_never_allowed(limiter: RateLimiter) -> None:
    allowed, wait = await limiter.hit(key(), 10, cost=11)
    assert not allowed
    assert wait > 0


async def test_reset_refills_the_bucket(limiter: RateLimiter) -> None:
    k = key()
    assert (await limiter.hit(k, 1))[0]
    assert not (await limiter.hit(k, 1))[0]
    await limiter.reset(k)
    assert (await limiter.hit(k, 1))[0]


async def test_bad_arguments(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError, match="limit_per_minute"):
        await limiter.hit(key(), 0)
    with pytest.raises(ValueError, match="cost"):
        await limiter.hit(key(), 1, cost=-1)
