"""The multi-bucket Lua script and the per-plan limits, against the real Redis (REDIS_URL), with the time
injected as `now_ms` so every wait is asserted exactly, without sleeping."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from shared.auth.schemas import Principal
from shared.limits.ratelimit.buckets import Bucket, TokenBuckets
from shared.limits.ratelimit.errors import RequestsRateLimited, TokensRateLimited
from shared.limits.ratelimit.service import RateLimits
from shared.plans.limits import Plans

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000  # an arbitrary injected "now", in ms


@pytest.fixture
def buckets(redis: Redis) -> TokenBuckets:
    return TokenBuckets(redis, prefix=f"test:{uuid.uuid4().hex}:")


PLANS = Plans.parse(
    """
[plans.small]
requests_per_minute = 2
tokens_per_minute = 600
key_requests_per_minute = 1

[plans.keyed]
tokens_per_minute = 600
key_tokens_per_minute = 120

[plans.open]
""",
    default="small",
)


def principal(key: bool = False, plan: str = "small") -> Principal:
    user = uuid.uuid4().hex
    return Principal(
        user, user, "api_key" if key else "jwt", f"key_{uuid.uuid4().hex[:8]}" if key else None, plan
    )


async def test_take_is_all_or_nothing_across_buckets(buckets: TokenBuckets) -> None:
    a, b = Bucket("a", 10, 1), Bucket("b", 1, 1)
    first = await buckets.take([a, b], now_ms=T0)
    assert first.allowed
    assert [s.remaining for s in first.states] == [9, 0]
    refused = await buckets.take([a, b], now_ms=T0)
    assert not refused.allowed
    assert refused.retry_after_s == 60.0  # b refills one token a minute
    # The refusal took nothing from a.
    assert [s.remaining for s in refused.states] == [9, 0]
    assert (await buckets.take([a], now_ms=T0)).states[0].remaining == 8


async def test_refill_is_continuous_and_reset_is_time_to_full(buckets: TokenBuckets) -> None:
    bucket = Bucket("r", 60, 30)  # one token a second
    taken = await buckets.take([bucket], now_ms=T0)
    assert taken.states[0].remaining == 30
    assert taken.states[0].reset_s == 30.0
    refused = await buckets.take([Bucket("r", 60, 45)], now_ms=T0 + 10_000)  # 40 tokens by then
    assert not refused.allowed
    assert refused.retry_after_s == 5.0
    assert (await buckets.take([Bucket("r", 60, 45)], now_ms=T0 + 15_000)).allowed


async def test_debt_mode_admits_a_cost_above_capacity_once_full_then_waits(buckets: TokenBuckets) -> None:
    big = Bucket("d", 60, 150)
    taken = await buckets.take([big], "debt", now_ms=T0)
    assert taken.allowed
    assert taken.states[0].remaining == -90
    # The next call waits until the debt is paid back and its own cost refilled: 90 + 10 tokens.
    refused = await buckets.take([Bucket("d", 60, 10)], "debt", now_ms=T0)
    assert not refused.allowed
    assert refused.retry_after_s == 100.0
    assert (await buckets.take([Bucket("d", 60, 10)], "debt", now_ms=T0 + 100_000)).allowed


async def test_force_mode_charges_into_debt_and_refunds_up_to_capacity(buckets: TokenBuckets) -> None:
    assert (await buckets.take([Bucket("f", 100, 80)], now_ms=T0)).states[0].remaining == 20
    forced = await buckets.take([Bucket("f", 100, 50)], "force", now_ms=T0)
    assert forced.allowed
    assert forced.states[0].remaining == -30
    refunded = await buckets.take([Bucket("f", 100, -1_000)], "force", now_ms=T0)
    assert refunded.states[0].remaining == 100
    assert refunded.states[0].reset_s == 0.0


async def test_a_zero_cost_take_refuses_a_bucket_in_debt(buckets: TokenBuckets) -> None:
    await buckets.take([Bucket("z", 60, 90)], "force", now_ms=T0)  # 60 - 90 = -30
    peek = await buckets.take([Bucket("z", 60, 0)], now_ms=T0)
    assert not peek.allowed
    assert peek.retry_after_s == 30.0
    assert (await buckets.take([Bucket("z", 60, 0)], now_ms=T0 + 30_000)).allowed


async def test_concurrent_takes_never_exceed_the_capacity(buckets: TokenBuckets) -> None:
    results = await asyncio.gather(*(buckets.take([Bucket("c", 7, 1)], now_ms=T0) for _ in range(40)))
    assert sum(r.allowed for r in results) == 7


async def test_a_larger_capacity_adds_its_difference_at_once_and_a_smaller_one_caps(
    buckets: TokenBuckets,
) -> None:
    assert (await buckets.take([Bucket("up", 3, 3)], now_ms=T0)).allowed
    assert not (await buckets.take([Bucket("up", 3, 1)], now_ms=T0)).allowed
    upgraded = await buckets.take([Bucket("up", 100, 1)], now_ms=T0)  # same instant: no refill
    assert upgraded.allowed and upgraded.states[0].remaining == 96
    downgraded = await buckets.take([Bucket("up", 10, 1)], now_ms=T0)
    assert downgraded.allowed and downgraded.states[0].remaining == 9
    again = await buckets.take([Bucket("up", 10, 1)], now_ms=T0)  # the same capacity adds nothing
    assert again.states[0].remaining == 8


async def test_arguments_are_checked(buckets: TokenBuckets) -> None:
    with pytest.raises(ValueError, match="capacity"):
        await buckets.take([Bucket("x", 0, 1)])
    with pytest.raises(ValueError, match="negative"):
        await buckets.take([Bucket("x", 1, -1)])
    assert (await buckets.take([])).allowed


async def test_the_redis_clock_is_used_without_an_injected_time(buckets: TokenBuckets) -> None:
    assert (await buckets.take([Bucket("t", 1, 1)])).allowed
    refused = await buckets.take([Bucket("t", 1, 1)])
    assert not refused.allowed
    assert 59.0 < refused.retry_after_s <= 60.0


async def test_requests_per_user_and_per_key(redis: Redis) -> None:
    limits = RateLimits(redis, PLANS)
    keyed = principal(key=True)
    state = await limits.check_request(keyed, now_ms=T0)
    # The key's bucket (1 a minute) is the tightest, so it is the one reported.
    assert state.headers()["X-RateLimit-Limit-Requests"] == "1"
    assert state.headers()["X-RateLimit-Remaining-Requests"] == "0"
    assert state.headers()["X-RateLimit-Limit-Tokens"] == "600"
    with pytest.raises(RequestsRateLimited) as refused:
        await limits.check_request(keyed, now_ms=T0)
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"] == "60"
    assert refused.value.headers["X-RateLimit-Reset-Requests"] == "1m0s"
    # The same user without the key still has one request of its own two left: the key's refusal
    # took nothing from the user's bucket.
    same_user = Principal(keyed.user_id, keyed.wallet_id, "jwt", None, "small")
    assert (await limits.check_request(same_user, now_ms=T0)).headers()[
        "X-RateLimit-Remaining-Requests"
    ] == "0"
    with pytest.raises(RequestsRateLimited):
        await limits.check_request(same_user, now_ms=T0)
    # Half a minute later the user's bucket (2 a minute) has a request again.
    await limits.check_request(same_user, now_ms=T0 + 30_000)


async def test_tokens_admit_record_and_debt(redis: Redis) -> None:
    limits = RateLimits(redis, PLANS)
    caller = principal()
    await limits.admit_tokens(caller, 500, now_ms=T0)
    with pytest.raises(TokensRateLimited) as refused:
        await limits.admit_tokens(caller, 200, now_ms=T0)  # 100 left, 10 tokens a second
    assert refused.value.headers["Retry-After"] == "10"
    assert refused.value.headers["X-RateLimit-Remaining-Tokens"] == "100"
    # The real output was 400 more than estimated: the bucket goes 300 into debt...
    await limits.record_tokens(caller, 400, now_ms=T0)
    # ...and even a request check (which takes no tokens) waits until the debt is paid: 30 s.
    with pytest.raises(RequestsRateLimited) as waiting:
        await limits.check_request(caller, now_ms=T0)
    assert waiting.value.headers["Retry-After"] == "30"
    assert waiting.value.headers["X-RateLimit-Remaining-Tokens"] == "0"
    state = await limits.check_request(caller, now_ms=T0 + 30_000)
    assert state.tokens is not None
    assert state.tokens.remaining == 0
    # A smaller real usage than estimated gives tokens back.
    await limits.record_tokens(caller, -300, now_ms=T0 + 30_000)
    await limits.admit_tokens(caller, 300, now_ms=T0 + 30_000)


async def test_tokens_per_key_are_limited_apart_from_the_user(redis: Redis) -> None:
    limits = RateLimits(redis, PLANS)
    keyed = principal(key=True, plan="keyed")
    await limits.admit_tokens(keyed, 100, now_ms=T0)
    with pytest.raises(TokensRateLimited) as refused:
        await limits.admit_tokens(keyed, 100, now_ms=T0)  # the key has 20 of its 120 left, 2 a second
    assert refused.value.headers["Retry-After"] == "40"
    assert refused.value.headers["X-RateLimit-Limit-Tokens"] == "120"
    # The user's other credentials still have 500 of the user's 600; the refusal took none of them.
    same_user = Principal(keyed.user_id, keyed.wallet_id, "jwt", None, "keyed")
    await limits.admit_tokens(same_user, 500, now_ms=T0)
    with pytest.raises(TokensRateLimited):
        await limits.admit_tokens(same_user, 1, now_ms=T0)


async def test_a_plan_without_limits_takes_nothing(redis: Redis) -> None:
    limits = RateLimits(redis, PLANS)
    caller = principal(key=True, plan="open")
    for _ in range(5):
        assert (await limits.check_request(caller)).headers() == {}
        await limits.admit_tokens(caller, 10**9)


async def test_redis_down_lets_calls_through() -> None:
    from scripts.stack import free_port

    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True)
    try:
        limits = RateLimits(dead, PLANS)
        assert (await limits.check_request(principal())).headers() == {}
        await limits.admit_tokens(principal(), 10)
        await limits.record_tokens(principal(), 10)
    finally:
        await dead.aclose()


def test_plans_file_defaults_and_errors(tmp_path: object) -> None:
    plans = Plans.parse("[plans.a]\nrequests_per_minute = 5\ntokens_per_minute = 7\n", default="a")
    plan = plans.get("a")
    assert (plan.key_requests_per_minute, plan.key_tokens_per_minute) == (5, 7)
    assert plans.get("nope") is plan  # unknown names fall back to the default
    with pytest.raises(ValueError, match="default plan"):
        Plans.parse("[plans.a]\n", default="b")
    with pytest.raises(ValueError, match="requests_per_minute"):
        Plans.parse("[plans.a]\nrequests_per_minute = -1\n", default="a")
    with pytest.raises(ValueError, match="Extra inputs"):
        Plans.parse("[plans.a]\nrpm = 1\n", default="a")
