"""The deployment balancer: ordering (per process, injected rand and clock) and the RPM/TPM buckets
(against the real Redis at REDIS_URL)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from shared.gateway.balancer import Balancer

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Dep:
    id: str
    rpm: int | None = None
    tpm: int | None = None


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:lb:"


def dep(rpm: int | None = None, tpm: int | None = None) -> Dep:
    return Dep(f"dep-{uuid.uuid4().hex[:8]}", rpm, tpm)


def sequence(values: Iterable[float]) -> Callable[[], float]:
    it = itertools.cycle(values)
    return lambda: next(it)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def call(balancer: Balancer, d: Dep, clock: Clock, seconds: float) -> None:
    async with balancer.track(d):
        clock.now += seconds


# --- ordering ---


async def test_least_inflight_prefers_the_idle_deployment(redis: Redis) -> None:
    balancer = Balancer(redis, "least_inflight", rand=sequence([0.0, 0.99]))  # rand favours a
    a, b = dep(), dep()
    assert balancer.order([a, b]) == [a, b]
    async with balancer.track(a):
        assert balancer.inflight(a.id) == 1
        assert balancer.order([a, b]) == [b, a]
        assert balancer.order([b, a]) == [b, a]
        async with balancer.track(b), balancer.track(b):
            assert balancer.inflight(b.id) == 2
            assert balancer.order([a, b]) == [a, b]
    assert balancer.inflight(a.id) == 0
    assert balancer.inflight(b.id) == 0


async def test_a_failed_call_leaves_flight_and_records_no_latency(redis: Redis) -> None:
    clock = Clock()
    balancer = Balancer(redis, "latency", clock=clock)
    a = dep()

    async def failing_call() -> None:
        async with balancer.track(a):
            clock.now += 5.0
            raise RuntimeError("provider failed")

    with pytest.raises(RuntimeError):
        await failing_call()
    assert balancer.inflight(a.id) == 0
    assert balancer.latency(a.id) is None


async def test_latency_is_an_ewma_of_successful_calls(redis: Redis) -> None:
    clock = Clock()
    balancer = Balancer(redis, "latency", clock=clock)
    a = dep()
    await call(balancer, a, clock, 1.0)
    assert balancer.latency(a.id) == pytest.approx(1.0)
    await call(balancer, a, clock, 2.0)
    assert balancer.latency(a.id) == pytest.approx(1.2)  # 1.0 + 0.2 * (2.0 - 1.0)
    async with balancer.track(a, measure=False):
        clock.now += 50.0
    assert balancer.latency(a.id) == pytest.approx(1.2)


async def test_latency_strategy_prefers_the_faster_deployment(redis: Redis) -> None:
    clock = Clock()
    # rand always favours the first in the list, so only latency can put the fast one first.
    balancer = Balancer(redis, "latency", rand=sequence([0.0, 0.5, 0.99]), clock=clock)
    slow, fast, medium = dep(), dep(), dep()
    for _ in range(3):
        await call(balancer, slow, clock, 0.8)
        await call(balancer, fast, clock, 0.1)
        await call(balancer, medium, clock, 0.3)
    assert balancer.order([slow, medium, fast]) == [fast, medium, slow]
    assert balancer.order([medium, fast, slow]) == [fast, medium, slow]
    # The fast one slows down: a few calls later the order follows.
    for _ in range(8):
        await call(balancer, fast, clock, 1.5)
    assert balancer.order([fast, medium, slow]) == [medium, slow, fast]


async def test_latency_strategy_tries_unmeasured_deployments_with_the_best(redis: Redis) -> None:
    clock = Clock()
    balancer = Balancer(redis, "latency", rand=sequence([0.9, 0.1, 0.5]), clock=clock)
    measured, new, slow = dep(), dep(), dep()
    await call(balancer, measured, clock, 0.2)
    await call(balancer, slow, clock, 1.0)
    # measured and new share the top group (rand 0.9 vs 0.1 puts new first); slow comes last.
    assert balancer.order([measured, new, slow]) == [new, measured, slow]


async def test_near_equal_latencies_share_the_load(redis: Redis) -> None:
    clock = Clock()
    balancer = Balancer(redis, "latency", rand=random.Random(7).random, clock=clock)
    a, b = dep(), dep()
    await call(balancer, a, clock, 0.200)
    await call(balancer, b, clock, 0.210)  # within 10 % of a
    firsts = Counter(balancer.order([a, b])[0].id for _ in range(400))
    assert 150 < firsts[a.id] < 250
    assert 150 < firsts[b.id] < 250


@pytest.mark.parametrize("strategy", ["least_inflight", "latency"])
async def test_ties_are_broken_by_rand(redis: Redis, strategy: str) -> None:
    a, b, c = dep(), dep(), dep()
    balancer = Balancer(redis, strategy, rand=sequence([0.5, 0.1, 0.9]))  # type: ignore[arg-type]
    assert balancer.order([a, b, c]) == [b, a, c]
    balancer = Balancer(redis, strategy, rand=sequence([0.3, 0.7, 0.2]))  # type: ignore[arg-type]
    assert balancer.order([a, b, c]) == [c, a, b]
    balancer = Balancer(redis, strategy, rand=random.Random(42).random)  # type: ignore[arg-type]
    firsts = Counter(balancer.order([a, b, c])[0].id for _ in range(600))
    assert set(firsts) == {a.id, b.id, c.id}
    assert all(150 < n < 250 for n in firsts.values()), firsts


async def test_order_of_one_or_none(redis: Redis) -> None:
    balancer = Balancer(redis, rand=lambda: pytest.fail("no tie to break"))
    a = dep()
    assert balancer.order([a]) == [a]
    assert balancer.order([]) == []


# --- RPM / TPM ---


async def test_rpm_limit_admits_then_refuses(redis: Redis, prefix: str) -> None:
    balancer = Balancer(redis, prefix=prefix)
    d = dep(rpm=3)
    assert [await balancer.acquire(d, 0) for _ in range(4)] == [True, True, True, False]


async def test_tpm_refuses_what_does_not_fit_and_takes_no_request(redis: Redis, prefix: str) -> None:
    balancer = Balancer(redis, prefix=prefix)
    d = dep(rpm=3, tpm=1000)
    assert await balancer.acquire(d, 600)
    assert not await balancer.acquire(d, 500)  # 400 tokens left: too few, RPM still has 2
    # The refusal took no request: two more fit in the RPM bucket.
    assert await balancer.acquire(d, 100)
    assert await balancer.acquire(d, 100)
    assert not await balancer.acquire(d, 1)  # RPM spent now


async def test_rpm_refusal_takes_no_tokens(redis: Redis, prefix: str) -> None:
    balancer = Balancer(redis, prefix=prefix)
    d = dep(rpm=1, tpm=1000)
    assert await balancer.acquire(d, 100)
    assert not await balancer.acquire(d, 800)
    # The same key's TPM bucket still holds ~900 tokens (a refused take would have left ~100).
    tokens_only = Dep(d.id, rpm=None, tpm=1000)
    assert await balancer.acquire(tokens_only, 850)


async def test_a_request_larger_than_the_tpm_never_fits(redis: Redis, prefix: str) -> None:
    balancer = Balancer(redis, prefix=prefix)
    d = dep(rpm=100, tpm=1000)
    assert not await balancer.acquire(d, 1001)
    assert await balancer.acquire(d, 1000)


async def test_two_instances_share_the_buckets(redis: Redis, other_redis: Redis, prefix: str) -> None:
    one = Balancer(redis, prefix=prefix)
    two = Balancer(other_redis, prefix=prefix)
    d = dep(rpm=4, tpm=10_000)
    results = await asyncio.gather(*((one if i % 2 else two).acquire(d, 10) for i in range(10)))
    assert sum(results) == 4
    assert not await one.acquire(d, 0)
    assert not await two.acquire(d, 0)
    # Another deployment (another key) has its own buckets.
    assert await two.acquire(dep(rpm=4, tpm=10_000), 10)


async def test_buckets_are_namespaced_and_expire(redis: Redis, prefix: str) -> None:
    balancer = Balancer(redis, prefix=prefix)
    d = dep(rpm=60, tpm=6000)
    assert await balancer.acquire(d, 600)
    rpm_key, tpm_key = balancer.keys(d.id)
    assert rpm_key == f"{prefix}{{{d.id}}}:rpm"
    assert tpm_key == f"{prefix}{{{d.id}}}:tpm"
    assert sorted(await redis.keys(prefix + "*")) == sorted([rpm_key, tpm_key])
    assert 0 < await redis.pttl(rpm_key) <= 2_000  # 1 request refills in 1 s, + 1 s margin
    assert 0 < await redis.pttl(tpm_key) <= 7_000  # 600 tokens refill in 6 s, + 1 s margin


async def test_no_limits_means_no_redis_call(caplog: pytest.LogCaptureFixture, prefix: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5)
    try:
        balancer = Balancer(dead, prefix=prefix)
        with caplog.at_level(logging.WARNING, logger="gateway.balancer"):
            assert await balancer.acquire(dep(), 10_000)
            assert caplog.records == []  # Redis was never asked
            # With limits, Redis is asked; when it is down the call is allowed (fail open) and logged.
            assert await balancer.acquire(dep(rpm=1, tpm=10), 5)
        assert [r.getMessage() for r in caplog.records] == [
            "deployment limits unavailable; allowing the call"
        ]
    finally:
        await dead.aclose()


async def test_bad_arguments_are_refused(redis: Redis, prefix: str) -> None:
    balancer = Balancer(redis, prefix=prefix)
    with pytest.raises(ValueError):
        await balancer.acquire(dep(rpm=0), 1)
    with pytest.raises(ValueError):
        await balancer.acquire(dep(tpm=10), -1)
    with pytest.raises(ValueError):
        Balancer(redis, "fastest")  # type: ignore[arg-type]
