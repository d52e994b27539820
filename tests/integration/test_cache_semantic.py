"""The semantic cache against the real Redis (REDIS_URL), with a deterministic bag-of-words embedder
standing in for the provider's embedding model behind the Embedder interface."""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from shared.cache.keys import CacheKey, cache_key
from shared.cache.layered import LayeredCache, build_cache
from shared.cache.semantic import SemanticCache
from shared.cache.types import CachedAnswer
from shared.settings import Settings

pytestmark = pytest.mark.anyio

DIM = 512
SYSTEM = {"role": "system", "content": "You answer geography questions."}
LONG = (
    "could you please tell me which city is the capital of france and also roughly how many people "
    "live there today"
)


class BagOfWords:
    """Each word adds 1 to a hashed dimension: cosine similarity is the word overlap."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def embed(self, text: str) -> list[float]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("provider down")
        vector = [0.0] * DIM
        for word in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIM] += 1.0
        return vector


def overlap(a: str, b: str) -> float:
    ca, cb = Counter(re.findall(r"\w+", a.lower())), Counter(re.findall(r"\w+", b.lower()))
    dot = sum(ca[w] * cb[w] for w in ca)
    return dot / math.sqrt(sum(v * v for v in ca.values()) * sum(v * v for v in cb.values()))


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


def key_for(who: str, question: str, system: dict[str, str] = SYSTEM) -> CacheKey:
    return cache_key(
        who, "gpt-4o-mini", [system, {"role": "user", "content": question}], {"temperature": 0}, 256
    )


def answer(text: str = "Paris, about two million people.", created: float | None = None) -> CachedAnswer:
    return CachedAnswer(
        text=text,
        finish_reason="stop",
        model="gpt-4o-mini",
        provider="openai",
        input_tokens=30,
        output_tokens=8,
        created=int(created if created is not None else time.time()),
    )


def semantic(redis: Redis, embedder: Any = None, **options: Any) -> SemanticCache:
    values: dict[str, Any] = {"ttl_s": 3600, "threshold": 0.95, "max_entries": 50, **options}
    return SemanticCache(redis, embedder or BagOfWords(), **values)


async def test_a_near_duplicate_question_hits_above_the_threshold(redis: Redis) -> None:
    cache, who = semantic(redis), tenant()
    await cache.put(key_for(who, LONG), answer())
    near = LONG.replace("please ", "")  # one word fewer
    assert overlap(LONG, near) > 0.95
    found = await cache.get(key_for(who, near))
    assert found is not None
    assert found.text == "Paris, about two million people."
    assert found.match == "semantic"
    assert found.similarity == pytest.approx(overlap(LONG, near), abs=1e-5)


async def test_a_question_below_the_threshold_misses(redis: Redis) -> None:
    who = tenant()
    question, near = "what is the capital city of france please", "what is the capital city of france"
    similarity = overlap(question, near)  # 7 / sqrt(56), about 0.935
    strict = semantic(redis, threshold=0.95)
    await strict.put(key_for(who, question), answer())
    assert await strict.get(key_for(who, near)) is None
    assert await strict.get(key_for(who, "how tall is the eiffel tower")) is None
    loose = semantic(redis, threshold=round(similarity - 0.01, 3))
    found = await loose.get(key_for(who, near))
    assert found is not None and found.similarity == pytest.approx(similarity, abs=1e-5)


async def test_another_tenant_never_hits(redis: Redis) -> None:
    cache, owner, other = semantic(redis), tenant(), tenant()
    await cache.put(key_for(owner, LONG), answer("owner's secret"))
    assert await cache.get(key_for(other, LONG)) is None  # the very same question
    loose = semantic(redis, threshold=0.01)
    assert await loose.get(key_for(other, LONG)) is None
    assert await redis.exists(*SemanticCache.keys(other, "gpt-4o-mini")) == 0


async def test_the_rest_of_the_request_must_match_exactly(redis: Redis) -> None:
    cache, who = semantic(redis), tenant()
    await cache.put(key_for(who, LONG), answer())
    other_system = {"role": "system", "content": "You answer in French."}
    assert await cache.get(key_for(who, LONG, system=other_system)) is None
    other_params = cache_key(
        who, "gpt-4o-mini", [SYSTEM, {"role": "user", "content": LONG}], {"temperature": 0}, 9
    )
    assert await cache.get(other_params) is None
    other_model = cache_key(
        who, "gpt-4o", [SYSTEM, {"role": "user", "content": LONG}], {"temperature": 0}, 256
    )
    assert await cache.get(other_model) is None


async def test_the_bound_evicts_the_oldest(redis: Redis) -> None:
    cache, who = semantic(redis, max_entries=3), tenant()
    questions = [f"question number {word} about rivers" for word in ("one", "two", "three", "four")]
    for i, question in enumerate(questions):
        await cache.put(key_for(who, question), answer(f"answer {i}"))
    idx, vec, ans, _ = SemanticCache.keys(who, "gpt-4o-mini")
    assert await redis.zcard(idx) == 3
    assert await redis.hlen(vec) == 3
    assert await redis.hlen(ans) == 3
    exact = semantic(redis, threshold=0.999)
    assert await exact.get(key_for(who, questions[0])) is None
    for i, question in enumerate(questions[1:], start=1):
        found = await exact.get(key_for(who, question))
        assert found is not None and found.text == f"answer {i}"


async def test_storing_the_same_question_again_does_not_grow_the_set(redis: Redis) -> None:
    cache, who = semantic(redis, max_entries=3), tenant()
    await cache.put(key_for(who, "first question"), answer("old"))
    for _ in range(3):
        await cache.put(key_for(who, LONG), answer("new"))
    idx, *_ = SemanticCache.keys(who, "gpt-4o-mini")
    assert await redis.zcard(idx) == 2
    found = await cache.get(key_for(who, LONG))
    assert found is not None and found.text == "new"


async def test_vectors_are_packed_float32_and_every_key_has_the_ttl(redis: Redis) -> None:
    cache, who = semantic(redis, ttl_s=300), tenant()
    await cache.put(key_for(who, LONG), answer())
    idx, vec, ans, seq = SemanticCache.keys(who, "gpt-4o-mini")
    for name in (idx, vec, ans, seq):
        assert 295 <= await redis.ttl(name) <= 300, name
    (member,) = await redis.zrange(idx, 0, -1)
    packed = await redis.execute_command("HGET", vec, member, NEVER_DECODE=True)
    assert len(packed) == 4 * DIM


async def test_an_entry_older_than_the_ttl_is_not_served(redis: Redis) -> None:
    now = [1_000_000.0]
    cache, who = semantic(redis, ttl_s=600, clock=lambda: now[0]), tenant()
    await cache.put(key_for(who, LONG), answer(created=now[0]))
    now[0] += 600
    assert await cache.get(key_for(who, LONG)) is not None
    now[0] += 1
    assert await cache.get(key_for(who, LONG)) is None


async def test_no_embedding_call_without_candidates_and_one_per_miss_then_put(redis: Redis) -> None:
    embedder = BagOfWords()
    cache, who = semantic(redis, embedder), tenant()
    assert await cache.get(key_for(who, LONG)) is None
    assert embedder.calls == 0  # nothing stored in this scope yet
    await cache.put(key_for(who, LONG), answer())
    assert embedder.calls == 1
    assert await cache.get(key_for(who, "something else entirely")) is None
    await cache.put(key_for(who, "something else entirely"), answer("other"))
    assert embedder.calls == 2  # the lookup's vector was reused by the put


async def test_an_embedding_failure_is_a_miss(redis: Redis) -> None:
    who = tenant()
    await semantic(redis).put(key_for(who, LONG), answer())
    broken = semantic(redis, BagOfWords(fail=True))
    assert await broken.get(key_for(who, LONG)) is None
    await broken.put(key_for(who, "another question"), answer())  # does not raise


async def test_a_request_not_ending_with_a_user_message_is_skipped(redis: Redis) -> None:
    embedder = BagOfWords()
    cache, who = semantic(redis, embedder), tenant()
    key = cache_key(who, "gpt-4o-mini", [{"role": "assistant", "content": "Hi"}], {"temperature": 0}, 256)
    await cache.put(key, answer())
    assert await cache.get(key) is None
    assert embedder.calls == 0


async def test_the_layered_cache_tries_exact_then_semantic(redis: Redis) -> None:
    settings = Settings(semantic_cache_enabled=True, semantic_cache_max_entries=10)
    cache = build_cache(redis, settings, BagOfWords())
    assert isinstance(cache, LayeredCache) and isinstance(cache.semantic, SemanticCache)
    who = tenant()
    await cache.put(key_for(who, LONG), answer())
    exact = await cache.get(key_for(who, LONG))
    assert exact is not None and exact.match == "exact"
    near = await cache.get(key_for(who, LONG.replace("please ", "")))
    assert near is not None and near.match == "semantic"
    assert await cache.get(key_for(tenant(), LONG)) is None


def test_semantic_cache_is_off_by_default() -> None:
    settings = Settings()
    assert settings.semantic_cache_enabled is False
    assert settings.semantic_cache_threshold == 0.95
