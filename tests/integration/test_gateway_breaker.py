"""The Redis circuit breaker, against the real Redis at REDIS_URL. Time is an injected clock: no sleeping."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid

import pytest
from redis.asyncio import Redis

from shared.gateway.breaker import Breaker

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:cb:"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def dep() -> str:
    return f"dep-{uuid.uuid4().hex[:8]}"


def make(redis: Redis, clock: Clock, prefix: str, **kw: float) -> Breaker:
    threshold = int(kw.pop("failure_threshold", 3))
    return Breaker(
        redis,
        failure_threshold=threshold,
        window_s=kw.pop("window_s", 10.0),
        open_s=kw.pop("open_s", 30.0),
        clock=clock,
        prefix=prefix,
        **kw,
    )


async def open_it(breaker: Breaker, clock: Clock, d: str, threshold: int = 3) -> None:
    for _ in range(threshold):
        await breaker.failure(d)
        clock.now += 0.1
    assert await breaker.state(d) == "open"


async def test_a_new_deployment_is_closed_and_costs_no_keys(redis: Redis, clock: Clock, prefix: str) -> None:
    breaker = make(redis, clock, prefix)
    d = dep()
    assert await breaker.state(d) == "closed"
    assert await breaker.allow(d)
    await breaker.success(d)
    assert await redis.keys(prefix + "*") == []


async def test_opens_after_threshold_failures_within_the_window(
    redis: Redis, clock: Clock, prefix: str
) -> None:
    breaker = make(redis, clock, prefix, failure_threshold=3, window_s=10.0)
    d = dep()
    await breaker.failure(d)
    clock.now += 4.0
    await breaker.failure(d)
    assert await breaker.state(d) == "closed"
    assert await breaker.allow(d)
    clock.now += 6.0  # the first failure is exactly 10 s old: still inside the window
    await breaker.failure(d)
    assert await breaker.state(d) == "open"
    assert not await breaker.allow(d)


async def test_failures_spread_beyond_the_window_do_not_open(redis: Redis, clock: Clock, prefix: str) -> None:
    breaker = make(redis, clock, prefix, failure_threshold=3, window_s=10.0)
    d = dep()
    for _ in range(20):  # one failure every 5.1 s: never 3 inside 10 s
        await breaker.failure(d)
        assert await breaker.state(d) == "closed"
        assert await breaker.allow(d)
        clock.now += 5.1
    failures = await redis.zcard(breaker.keys(d)[1])
    assert failures == 2  # old failures are dropped, the set stays small


async def test_stays_open_during_the_cool_down(redis: Redis, clock: Clock, prefix: str) -> None:
    breaker = make(redis, clock, prefix, open_s=30.0)
    d = dep()
    await open_it(breaker, clock, d)
    opened = clock.now - 0.1
    for offset in (0.0, 1.0, 15.0, 29.99):
        clock.now = opened + offset
        assert not await breaker.allow(d)
        assert await breaker.state(d) == "open"
    clock.now = opened + 30.0
    assert await breaker.allow(d)
    assert await breaker.state(d) == "half_open"


async def test_exactly_one_probe_across_two_instances(
    redis: Redis, other_redis: Redis, clock: Clock, prefix: str
) -> None:
    a = make(redis, clock, prefix, open_s=30.0)
    b = make(other_redis, clock, prefix, open_s=30.0)
    d = dep()
    await open_it(a, clock, d)
    assert await b.state(d) == "open"
    clock.now += 31.0
    calls = [(a if i % 2 else b).allow(d) for i in range(20)]
    results = await asyncio.gather(*calls)
    assert sum(results) == 1
    assert await a.state(d) == "half_open"
    assert await b.state(d) == "half_open"
    clock.now += 29.0  # the probe is still out: everyone else keeps waiting
    assert not any(await asyncio.gather(*(a.allow(d) for _ in range(5)), *(b.allow(d) for _ in range(5))))


async def test_a_probe_that_never_reports_is_replaced_after_its_lease(
    redis: Redis, clock: Clock, prefix: str
) -> None:
    breaker = make(redis, clock, prefix, open_s=30.0)
    d = dep()
    await open_it(breaker, clock, d)
    clock.now += 30.0
    assert await breaker.allow(d)  # the probe, whose instance then dies
    clock.now += 29.9
    assert not await breaker.allow(d)
    clock.now += 0.1
    assert await breaker.allow(d)  # a new probe
    assert not await breaker.allow(d)


async def test_probe_success_closes(redis: Redis, other_redis: Redis, clock: Clock, prefix: str) -> None:
    a = make(redis, clock, prefix, failure_threshold=3)
    b = make(other_redis, clock, prefix, failure_threshold=3)
    d = dep()
    await open_it(a, clock, d)
    clock.now += 30.0
    assert await a.allow(d)
    await a.success(d)
    assert await b.state(d) == "closed"
    assert all(await asyncio.gather(*(b.allow(d) for _ in range(10))))
    # The count starts again from zero.
    await b.failure(d)
    await b.failure(d)
    assert await b.state(d) == "closed"
    await b.failure(d)
    assert await b.state(d) == "open"


async def test_probe_failure_reopens_for_another_cool_down(redis: Redis, clock: Clock, prefix: str) -> None:
    breaker = make(redis, clock, prefix, open_s=30.0)
    d = dep()
    await open_it(breaker, clock, d)
    clock.now += 30.0
    assert await breaker.allow(d)
    clock.now += 2.0
    await breaker.failure(d)
    reopened = clock.now
    assert await breaker.state(d) == "open"
    clock.now = reopened + 29.9
    assert not await breaker.allow(d)
    clock.now = reopened + 30.0
    assert await breaker.allow(d)
    assert not await breaker.allow(d)


async def test_success_resets_the_failure_count(redis: Redis, clock: Clock, prefix: str) -> None:
    breaker = make(redis, clock, prefix, failure_threshold=3, window_s=60.0)
    d = dep()
    await breaker.failure(d)
    await breaker.failure(d)
    await breaker.success(d)
    await breaker.failure(d)
    await breaker.failure(d)
    assert await breaker.state(d) == "closed"
    await breaker.failure(d)
    assert await breaker.state(d) == "open"


async def test_a_late_success_does_not_close_an_open_breaker(redis: Redis, clock: Clock, prefix: str) -> None:
    breaker = make(redis, clock, prefix)
    d = dep()
    await open_it(breaker, clock, d)
    await breaker.success(d)  # a call that started before the breaker opened
    assert await breaker.state(d) == "open"
    assert not await breaker.allow(d)


async def test_late_failures_do_not_extend_the_cool_down(redis: Redis, clock: Clock, prefix: str) -> None:
    breaker = make(redis, clock, prefix, open_s=30.0)
    d = dep()
    await open_it(breaker, clock, d)
    opened = clock.now - 0.1
    clock.now = opened + 20.0
    await breaker.failure(d)
    clock.now = opened + 30.0
    assert await breaker.allow(d)


async def test_deployments_are_independent_and_keys_namespaced(
    redis: Redis, clock: Clock, prefix: str
) -> None:
    breaker = make(redis, clock, prefix)
    d, other = dep(), dep()
    await open_it(breaker, clock, d)
    assert await breaker.state(other) == "closed"
    assert await breaker.allow(other)
    await breaker.failure(other)
    state_key, failures_key = breaker.keys(other)
    assert state_key == f"{prefix}{{{other}}}"
    assert failures_key == f"{prefix}{{{other}}}:f"
    assert sorted(await redis.keys(prefix + "*")) == sorted([breaker.keys(d)[0], state_key, failures_key])
    # Another prefix is another breaker.
    assert await make(redis, clock, prefix + "x:").state(d) == "closed"


async def test_keys_expire(redis: Redis, clock: Clock, prefix: str) -> None:
    breaker = make(redis, clock, prefix, failure_threshold=3, window_s=10.0, open_s=30.0, idle_ttl_s=600.0)
    d = dep()
    state_key, failures_key = breaker.keys(d)
    await breaker.failure(d)
    for key in (state_key, failures_key):
        assert 0 < await redis.pttl(key) <= 10_000  # counted failures live one window
    await breaker.failure(d)
    await breaker.failure(d)
    assert await breaker.state(d) == "open"
    assert await redis.exists(failures_key) == 0
    assert 590_000 < await redis.pttl(state_key) <= 600_000
    clock.now += 30.0
    assert await breaker.allow(d)
    assert 590_000 < await redis.pttl(state_key) <= 600_000
    await breaker.success(d)
    assert await redis.keys(prefix + "*") == []


async def test_the_state_outlives_cool_down_and_lease_with_a_short_idle_ttl(
    redis: Redis, clock: Clock, prefix: str
) -> None:
    breaker = make(redis, clock, prefix, window_s=10.0, open_s=30.0, idle_ttl_s=1.0)
    d = dep()
    await open_it(breaker, clock, d)
    assert 60_000 < await redis.pttl(breaker.keys(d)[0]) <= 70_000  # 2 * open_s + window_s


async def test_transitions_are_logged(
    redis: Redis, clock: Clock, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = make(redis, clock, prefix)
    d = dep()
    with caplog.at_level(logging.INFO, logger="gateway.breaker"):
        await open_it(breaker, clock, d)
        clock.now += 30.0
        assert await breaker.allow(d)
        await breaker.success(d)
    moves = [
        (r.deployment, r.previous, r.state)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "gateway.breaker"
    ]
    assert moves == [(d, "closed", "open"), (d, "open", "half_open"), (d, "half_open", "closed")]


async def test_redis_down_fails_open(clock: Clock, prefix: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5)
    try:
        breaker = make(dead, clock, prefix)
        d = dep()
        assert await breaker.allow(d)
        await breaker.failure(d)
        await breaker.success(d)
    finally:
        await dead.aclose()


async def test_bad_configuration_is_refused() -> None:
    client = Redis()
    with pytest.raises(ValueError):
        Breaker(client, failure_threshold=0)
    with pytest.raises(ValueError):
        Breaker(client, open_s=0)
