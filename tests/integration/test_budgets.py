"""Spend budgets against the real Redis and the Pub/Sub emulator: admission arithmetic, no overspend under
concurrency (two Redis clients, as two instances), period rollover with an injected clock, and alerts at
50/80/100 percent published exactly once each."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from google.cloud import pubsub_v1
from redis.asyncio import Redis

from shared.adapters.pubsub import PublishFailed, PubSubPublisher
from shared.auth.schemas import Principal
from shared.limits.budgets import periods
from shared.limits.budgets.errors import BudgetExceeded
from shared.limits.budgets.schemas import Budget
from shared.limits.budgets.service import Budgets
from shared.plans.limits import Plans
from shared.settings import Settings

pytestmark = pytest.mark.anyio

PLANS = Plans.parse("[plans.capped]\ndaily_budget = 1000\nmonthly_budget = 5000\n", default="capped")


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC))


@pytest.fixture
async def redis_clients(settings: Settings) -> AsyncIterator[list[Redis]]:
    clients = [Redis.from_url(settings.redis_url, decode_responses=True) for _ in range(2)]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


@pytest.fixture
def topic(settings: Settings) -> Iterator[tuple[str, str]]:
    """A fresh topic with a subscription made before anything is published: (topic, subscription path)."""
    if not os.environ.get("PUBSUB_EMULATOR_HOST"):
        pytest.exit("PUBSUB_EMULATOR_HOST is not set: run the tests with `make test`.", returncode=3)
    name = f"budget-alerts-{uuid.uuid4().hex[:8]}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(settings.gcp_project, name)
    subscription = subscriber.subscription_path(settings.gcp_project, name + "-sub")
    publisher.create_topic(name=topic_path)
    subscriber.create_subscription(name=subscription, topic=topic_path)
    try:
        yield name, subscription
    finally:
        subscriber.delete_subscription(subscription=subscription)
        publisher.delete_topic(topic=topic_path)
        subscriber.close()


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[PubSubPublisher]:
    pub = PubSubPublisher.from_settings(settings)
    try:
        yield pub
    finally:
        await pub.close()


def budgets(
    redis: Redis, settings: Settings, clock: Clock, publisher: PubSubPublisher | None = None, topic: str = ""
) -> Budgets:
    return Budgets(
        redis, PLANS, publisher, settings.model_copy(update={"budget_alerts_topic": topic}), now=clock
    )


def subject() -> Budget:
    return Budget(f"user:{uuid.uuid4().hex}", daily=1000, monthly=5000)


def pull(subscription: str, want: int, quiet_s: float = 2.0, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Pull until `want` messages arrived and nothing more comes for `quiet_s` (a single pull may return
    nothing while messages wait, so pull in a loop)."""
    subscriber = pubsub_v1.SubscriberClient()
    got: list[dict[str, Any]] = []
    deadline, last = time.monotonic() + timeout_s, time.monotonic()
    try:
        while time.monotonic() < deadline:
            if len(got) >= want and time.monotonic() - last > quiet_s:
                break
            response = subscriber.pull(
                request={"subscription": subscription, "max_messages": 50}, timeout=5, retry=None
            )
            if response.received_messages:
                last = time.monotonic()
                got += [
                    {"data": json.loads(m.message.data), "attributes": dict(m.message.attributes)}
                    for m in response.received_messages
                ]
                subscriber.acknowledge(
                    request={
                        "subscription": subscription,
                        "ack_ids": [m.ack_id for m in response.received_messages],
                    }
                )
            else:
                time.sleep(0.1)
    finally:
        subscriber.close()
    return got


async def test_admit_settle_release_arithmetic(
    redis_clients: list[Redis], settings: Settings, clock: Clock
) -> None:
    service = budgets(redis_clients[0], settings, clock)
    budget = subject()
    day = periods.day(clock(), budget.daily)
    month = periods.month(clock(), budget.monthly)

    a = await service.admit(budget, 600)
    assert a.amount == 600
    assert await service.usage(budget.subject, day) == (0, 600)
    # 400 left: a call that needs all of 500 is refused, one that can make do with 100 gets the 400.
    with pytest.raises(BudgetExceeded) as refused:
        await service.admit(budget, 500)
    assert refused.value.status == 402
    assert refused.value.code == "budget_exceeded"
    assert refused.value.headers["X-Budget-Period"] == "day"
    assert refused.value.headers["X-Budget-Reset"] == "2026-11-28T00:00:00Z"
    assert refused.value.headers["Retry-After"] == str(12 * 3600)
    assert "600 held by calls in progress" in refused.value.message
    b = await service.admit(budget, 500, minimum=100)
    assert b.amount == 400

    await service.settle(a, 250)  # charged less than admitted: the rest is free again
    assert await service.usage(budget.subject, day) == (250, 400)
    assert await service.usage(budget.subject, month) == (250, 400)
    await service.release(b)
    assert await service.usage(budget.subject, day) == (250, 0)
    # Settling or releasing twice changes nothing.
    await service.settle(a, 250)
    await service.release(b)
    await service.settle(b, 999)
    assert await service.usage(budget.subject, day) == (250, 0)

    c = await service.admit(budget, 750)
    assert c.amount == 750
    await service.settle(c, 750)
    assert await service.usage(budget.subject, day) == (1000, 0)
    with pytest.raises(BudgetExceeded):
        await service.admit(budget, 1, minimum=1)
    # A free call (no credits) is never refused, and no budget means no counting at all.
    assert (await service.admit(budget, 0)).periods == ()
    assert (await service.admit(Budget("user:unlimited"), 10**12)).amount == 10**12


async def test_the_monthly_budget_refuses_on_its_own(
    redis_clients: list[Redis], settings: Settings, clock: Clock
) -> None:
    service = budgets(redis_clients[0], settings, clock)
    budget = Budget(f"user:{uuid.uuid4().hex}", daily=0, monthly=300)
    await service.settle(await service.admit(budget, 300), 300)
    with pytest.raises(BudgetExceeded) as refused:
        await service.admit(budget, 10)
    assert refused.value.headers["X-Budget-Period"] == "month"
    assert refused.value.headers["X-Budget-Reset"] == "2026-12-01T00:00:00Z"


async def test_concurrent_admits_from_two_instances_never_pass_the_budget(
    redis_clients: list[Redis], settings: Settings, clock: Clock
) -> None:
    instances = [budgets(r, settings, clock) for r in redis_clients]
    budget = subject()

    async def try_admit(i: int) -> int:
        try:
            admission = await instances[i % 2].admit(budget, 70)
        except BudgetExceeded:
            return 0
        return admission.amount

    granted = await asyncio.gather(*(try_admit(i) for i in range(60)))
    assert sum(granted) == 980  # 14 calls of 70 fit in 1000; a 15th would pass it
    assert sorted(set(granted)) == [0, 70]
    spent, inflight = await instances[0].usage(budget.subject, periods.day(clock(), budget.daily))
    assert (spent, inflight) == (0, 980)


async def test_period_rollover_and_expired_admissions(
    redis_clients: list[Redis], settings: Settings, clock: Clock
) -> None:
    service = budgets(redis_clients[0], settings, clock)
    budget = subject()
    clock.at = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC)
    late = await service.admit(budget, 900)
    await service.settle(late, 900)
    with pytest.raises(BudgetExceeded):
        await service.admit(budget, 200)
    # A new day and a new month: both counters start again from zero.
    clock.at = dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=dt.UTC)
    fresh = await service.admit(budget, 1000)
    assert fresh.amount == 1000
    assert [p.id for p in fresh.periods] == ["2026-12-01", "2026-12"]
    # An admission whose instance died stops counting once the hold TTL has passed.
    with pytest.raises(BudgetExceeded):
        await service.admit(budget, 1)
    clock.at += dt.timedelta(seconds=settings.hold_ttl_s + 1)
    assert (await service.admit(budget, 1000)).amount == 1000
    # Settling the expired admission still counts what it really spent.
    await service.settle(fresh, 10)
    day = periods.day(clock(), budget.daily)
    assert await service.usage(budget.subject, day) == (10, 1000)


async def test_keys_expire_after_their_period(
    redis_clients: list[Redis], settings: Settings, clock: Clock
) -> None:
    service = budgets(redis_clients[0], settings, clock)
    budget = subject()
    await service.settle(await service.admit(budget, 10), 10)
    ttls = {
        key: await redis_clients[0].pttl(key)
        async for key in redis_clients[0].scan_iter(match=f"budget:{{{budget.subject}}}:*")
    }
    day_key = f"budget:{{{budget.subject}}}:day:2026-11-27"
    month_key = f"budget:{{{budget.subject}}}:month:2026-11"
    # Half a day left in the day plus a day of grace; the month has 3.5 days left plus a day.
    assert ttls[day_key] == pytest.approx(36 * 3600 * 1000, abs=5000)
    assert ttls[month_key] == pytest.approx(4.5 * 24 * 3600 * 1000, abs=5000)
    assert all(ttl > 0 for ttl in ttls.values())


async def test_alerts_at_50_80_100_are_published_once_each(
    redis_clients: list[Redis],
    settings: Settings,
    clock: Clock,
    topic: tuple[str, str],
    publisher: PubSubPublisher,
) -> None:
    name, subscription = topic
    instances = [budgets(r, settings, clock, publisher, name) for r in redis_clients]
    budget = subject()
    # Twenty calls of 50 credits settle at once on two instances: spend passes 500, 800 and 1000 of the
    # daily budget and 2500 of the monthly budget is never reached.
    admissions = [await instances[i % 2].admit(budget, 50) for i in range(20)]
    crossed = await asyncio.gather(*(instances[i % 2].settle(a, 50) for i, a in enumerate(admissions)))
    assert sorted(alert.threshold for alerts in crossed for alert in alerts) == [50, 80, 100]
    await instances[0].flush()
    await instances[1].flush()
    # More spending after 100% (an expired admission settling) publishes nothing new.
    assert await instances[0].settle(await instances[1].admit(Budget(budget.subject, 0, 5000), 5), 5) == []

    messages = await asyncio.to_thread(pull, subscription, 3)
    assert sorted(m["data"]["threshold_percent"] for m in messages) == [50, 80, 100]
    for m in messages:
        assert m["data"]["subject"] == budget.subject
        assert m["data"]["period"] == "day"
        assert m["data"]["period_id"] == "2026-11-27"
        assert m["data"]["budget"] == 1000
        assert m["data"]["spent"] * 100 >= m["data"]["threshold_percent"] * 1000
        assert m["attributes"] == {
            "subject": budget.subject,
            "period": "day",
            "period_id": "2026-11-27",
            "threshold": str(m["data"]["threshold_percent"]),
        }


async def test_a_failed_publish_is_retried_by_the_next_settle(
    redis_clients: list[Redis], settings: Settings, clock: Clock, topic: tuple[str, str]
) -> None:
    name, subscription = topic

    class Flaky:
        def __init__(self) -> None:
            self.real = PubSubPublisher.from_settings(settings)
            self.fail = True
            self.attempts = 0

        async def publish(self, topic: str, data: Any, attributes: Any = None) -> str:
            self.attempts += 1
            if self.fail:
                raise PublishFailed("down")
            return await self.real.publish(topic, data, attributes)

    flaky = Flaky()
    service = Budgets(
        redis_clients[0], PLANS, flaky, settings.model_copy(update={"budget_alerts_topic": name}), now=clock
    )
    budget = subject()
    first = await service.settle(await service.admit(budget, 600), 600)
    assert [a.threshold for a in first] == [50]
    await service.flush()
    assert flaky.attempts == 1
    flaky.fail = False
    retried = await service.settle(await service.admit(budget, 1), 1)
    assert [a.threshold for a in retried] == [50]
    await service.flush()
    assert flaky.attempts == 2
    messages = await asyncio.to_thread(pull, subscription, 1)
    assert [m["data"]["threshold_percent"] for m in messages] == [50]
    await flaky.real.close()


async def test_budget_of_a_principal_comes_from_its_plan(
    redis_clients: list[Redis], settings: Settings, clock: Clock
) -> None:
    service = budgets(redis_clients[0], settings, clock)
    principal = Principal("u1", "u1", "jwt", plan="capped")
    assert service.for_user(principal) == Budget("user:u1", daily=1000, monthly=5000)
