"""The open-things cap on a real Redis: leases up to the cap, refusal past it (leaving no trace), release,
and a lease its instance never released stops counting once it expires."""

from __future__ import annotations

import time
import uuid

import pytest
from redis.asyncio import Redis

from shared.limits.concurrency import Cap, Concurrency, TooManyOpen

pytestmark = pytest.mark.anyio

CAP = Cap("chat streams", "streams", "too_many_streams", 2)


async def test_up_to_the_cap_then_refused_then_released(redis: Redis) -> None:
    user = uuid.uuid4().hex
    concurrency = Concurrency(redis, 60)
    first, second = await concurrency.acquire(CAP, user), await concurrency.acquire(CAP, user)
    assert first is not None and second is not None
    with pytest.raises(TooManyOpen) as refused:
        await concurrency.acquire(CAP, user)
    assert (refused.value.status, refused.value.code) == (429, "too_many_streams")
    assert await redis.zcard(first.key) == 2  # the refused one left nothing behind
    assert await concurrency.acquire(CAP, uuid.uuid4().hex) is not None  # another user's slots
    await concurrency.release(first)
    async with concurrency.hold(CAP, user) as third:
        assert third is not None and await redis.zcard(third.key) == 2
    assert await redis.zcard(third.key) == 1


async def test_a_lease_never_released_expires(redis: Redis) -> None:
    user = uuid.uuid4().hex
    concurrency = Concurrency(redis, 60)
    key = f"{{u:{user}}}:open:{CAP.slug}"
    await redis.zadd(key, {"crashed-a": time.time() - 1, "crashed-b": time.time() - 1})  # past their expiry
    assert await concurrency.acquire(CAP, user) is not None
    assert await redis.zcard(key) == 1
