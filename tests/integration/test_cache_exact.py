"""The exact response cache against the real Redis the test runner starts (REDIS_URL)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from scripts.stack import free_port
from shared.cache.exact import ResponseCache
from shared.cache.keys import CacheKey, cache_key
from shared.cache.layered import LayeredCache, build_cache
from shared.cache.types import CachedAnswer
from shared.settings import Settings

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(params=[True, False], ids=["decoded", "bytes"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Redis]:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.exit("REDIS_URL is not set: run the tests with `make test` (it starts Redis).", returncode=3)
    client = Redis.from_url(url, decode_responses=request.param)
    try:
        yield client
    finally:
        await client.aclose()


def tenant() -> str:
    return f"w-{uuid.uuid4().hex[:12]}"


def answer(text: str = "Paris.", **fields: Any) -> CachedAnswer:
    values: dict[str, Any] = {
        "text": text,
        "finish_reason": "stop",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "input_tokens": 14,
        "output_tokens": 2,
        "created": int(time.time()),
        **fields,
    }
    return CachedAnswer(**values)


def key_for(who: str, messages: list[dict[str, Any]] = MESSAGES) -> CacheKey:
    return cache_key(who, "gpt-4o-mini", messages, {"temperature": 0}, 256)


async def test_a_stored_answer_comes_back_for_the_same_request(redis: Redis) -> None:
    cache = ResponseCache(redis, ttl_s=3600)
    who = tenant()
    assert await cache.get(key_for(who)) is None
    stored = answer()
    await cache.put(key_for(who), stored)
    found = await cache.get(key_for(who))
    assert found == stored
    assert found is not None and found.match == "exact" and found.similarity == 1.0


async def test_put_sets_the_ttl(redis: Redis) -> None:
    cache = ResponseCache(redis, ttl_s=120)
    key = key_for(tenant())
    await cache.put(key, answer())
    ttl = await redis.ttl(key.redis_key)
    assert 115 <= ttl <= 120
    raw = await redis.get(key.redis_key)
    assert raw is not None and b"Paris." in (raw if isinstance(raw, bytes) else raw.encode())


async def test_another_tenant_never_gets_the_answer(redis: Redis) -> None:
    cache = ResponseCache(redis, ttl_s=3600)
    owner, other = tenant(), tenant()
    await cache.put(key_for(owner), answer("owner's secret"))
    assert key_for(owner).redis_key != key_for(other).redis_key
    assert await cache.get(key_for(other)) is None
    assert await redis.exists(key_for(other).redis_key) == 0


async def test_a_different_request_misses(redis: Redis) -> None:
    cache = ResponseCache(redis, ttl_s=3600)
    who = tenant()
    await cache.put(key_for(who), answer())
    assert (
        await cache.get(key_for(who, [{"role": "user", "content": "What is the capital of Spain?"}])) is None
    )


async def test_an_unreadable_entry_is_a_miss(redis: Redis) -> None:
    cache = ResponseCache(redis, ttl_s=3600)
    key = key_for(tenant())
    await redis.set(key.redis_key, "{not json", ex=60)
    assert await cache.get(key) is None


async def test_redis_down_is_a_miss_not_an_error() -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        cache = ResponseCache(dead, ttl_s=60)
        await cache.put(key_for(tenant()), answer())
        assert await cache.get(key_for(tenant())) is None
    finally:
        await dead.aclose()


async def test_build_cache_follows_the_settings(redis: Redis) -> None:
    cache = build_cache(redis, Settings(response_cache_ttl_s=90))
    assert isinstance(cache, LayeredCache)
    assert cache.semantic is None  # the semantic layer is off by default
    key, stored = key_for(tenant()), answer()
    await cache.put(key, stored)
    assert await cache.get(key) == stored
    assert 85 <= await redis.ttl(key.redis_key) <= 90
    assert build_cache(redis, Settings(response_cache_enabled=False)) is None
    with pytest.raises(ValueError):
        build_cache(redis, Settings(semantic_cache_enabled=True))
