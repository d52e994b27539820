"""The router against the fake provider fleet, with the real Breaker and Balancer on the real Redis.

Delays are asserted through an injected sleep that records instead of waiting (and a fixed jitter),
the breaker's time through an injected clock; only the timeout tests wait (about a second each).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis.asyncio import Redis

from shared.adapters.secrets import EnvSecrets
from shared.catalog.catalog import Catalog, ModelSpec
from shared.errors import AppError, BadRequest
from shared.gateway.balancer import Balancer
from shared.gateway.breaker import Breaker
from shared.gateway.calls import Caller
from shared.gateway.retry import RetryPolicy
from shared.gateway.router import AllProvidersFailed, Router
from shared.gateway.types import Candidate, Completion
from shared.settings import Settings
from tests.fakes.provider import FakeProvider, Fault, reply_words

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "say something"}]
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """A router on its own catalog of uniquely named models (so no state leaks between tests)."""

    router: Router
    catalog: Catalog
    fake: FakeProvider
    clock: Clock
    tag: str
    sleeps: list[float] = field(default_factory=list)

    def name(self, model: str) -> str:
        return f"{model}-{self.tag}"

    def spec(self, model: str) -> ModelSpec:
        return self.catalog.models[self.name(model)]

    def chain(self, model: str, max_tokens: int = 4) -> list[Candidate]:
        spec = self.spec(model)
        return [Candidate(s, max_tokens, 10) for s in (spec, *self.catalog.fallbacks(spec))]

    async def complete(self, model: str, max_tokens: int = 4) -> Completion:
        return await self.router.complete(self.chain(model, max_tokens), MESSAGES, {})

    def calls(self, model: str, provider: str | None = None) -> int:
        return len(self.fake.calls_for(self.name(model), provider))


def model_toml(
    tag: str, name: str, deployments: list[tuple[str, int | None]], fallbacks: list[str], wait_s: float = 10.0
) -> str:
    lines = [
        "[[models]]",
        f'id = "{name}-{tag}"',
        f'litellm_model = "openai/{name}-{tag}"',
        "input_price = 100000",
        "output_price = 200000",
        "context_window = 8192",
        "max_output_tokens = 2048",
        "fallbacks = [" + ", ".join(f'"{f}-{tag}"' for f in fallbacks) + "]",
        f"timeouts = {{ first_token_s = {wait_s}, idle_s = {wait_s}, total_s = 30 }}",
    ]
    for provider, rpm in deployments:
        lines += ["[[models.deployments]]", f'provider = "{provider}"']
        if rpm is not None:
            lines.append(f"rpm = {rpm}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def rig(tmp_path: Path, redis: Redis, fleet: FakeProvider) -> Rig:
    tag = uuid.uuid4().hex[:8]
    root = fleet.base_url.removesuffix("/v1")
    toml = "".join(
        f'[providers.{p}]\napi_base = "{root}/{p}/v1"\napi_key = "k"\n' for p in ("fake_a", "fake_b")
    )
    toml += model_toml(tag, "solo", [("fake_a", None)], ["backup"])
    toml += model_toml(tag, "pair", [("fake_a", None), ("fake_b", None)], ["backup"])
    toml += model_toml(tag, "limited", [("fake_a", 2), ("fake_b", None)], [])
    toml += model_toml(tag, "backup", [("fake_b", None)], [])
    # Only the timeout tests use it: a hang or a stall fails after a second (real time).
    toml += model_toml(tag, "quick", [("fake_a", None)], ["backup"], wait_s=1.0)
    path = tmp_path / "router.toml"
    path.write_text(toml)
    catalog = Catalog.load(Settings(), EnvSecrets({}), path)
    clock = Clock()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    breaker = Breaker(redis, failure_threshold=3, window_s=60, open_s=30, clock=clock, prefix=f"cb:{tag}:")
    balancer = Balancer(redis, "least_inflight", prefix=f"lb:{tag}:")
    policy = RetryPolicy(max_attempts=3, base_s=0.25, cap_s=8.0, max_retry_after_s=20.0)
    router = Router(
        catalog,
        Settings(),
        breaker,
        balancer,
        Caller(Settings()),
        policy=policy,
        sleep=sleep,
        rand=lambda: 0.5,
    )
    return Rig(router, catalog, fleet, clock, tag, sleeps)


async def test_success_reports_the_serving_model_and_deployment(rig: Rig) -> None:
    done = await rig.complete("solo", max_tokens=3)
    assert done.text == "".join(reply_words(3))
    assert done.served is not None
    assert (done.served.spec.id, done.served.deployment.id) == (
        rig.name("solo"),
        f"{rig.name('solo')}@fake_a#0",
    )
    assert done.usage.reported and done.usage.output_tokens == 3
    assert rig.sleeps == []


async def test_retries_with_exponential_backoff_and_full_jitter(rig: Rig) -> None:
    rig.fake.fail_first(rig.name("solo"), 2, Fault.http(503))
    done = await rig.complete("solo")
    assert done.served is not None and done.served.spec.id == rig.name("solo")
    assert done.served.attempts == 3
    assert rig.calls("solo") == 3
    # rand() = 0.5: half of base * 2**(n-1), n = tries made so far.
    assert rig.sleeps == [0.125, 0.25]


@pytest.mark.parametrize(
    "fault",
    [Fault.rate_limited(), Fault.overloaded(), Fault.http(500), Fault.http(502), Fault.http(504)],
    ids=["429", "529", "500", "502", "504"],
)
async def test_provider_faults_are_retried(rig: Rig, fault: Fault) -> None:
    rig.fake.fail_first(rig.name("solo"), 1, fault)
    done = await rig.complete("solo")
    assert done.served is not None and done.served.spec.id == rig.name("solo")
    assert rig.calls("solo") == 2 and len(rig.sleeps) == 1


async def test_retry_after_is_a_floor_for_the_delay(rig: Rig) -> None:
    rig.fake.fail_first(rig.name("solo"), 1, Fault.rate_limited(retry_after=3))
    await rig.complete("solo")
    assert rig.sleeps == [3.0]


async def test_a_retry_after_beyond_the_maximum_moves_on_without_waiting(rig: Rig) -> None:
    rig.fake.always(rig.name("solo"), Fault.rate_limited(retry_after=60))
    done = await rig.complete("solo")
    assert done.served is not None and done.served.spec.id == rig.name("backup")
    assert rig.calls("solo") == 1 and rig.sleeps == []


async def test_a_request_error_is_raised_at_once_without_retry_or_fallback(rig: Rig) -> None:
    rig.fake.always(rig.name("pair"), Fault.http(400))
    with pytest.raises(BadRequest) as raised:
        await rig.complete("pair")
    assert raised.value.code == "provider_rejected_request"
    assert rig.calls("pair") == 1 and rig.calls("backup") == 0 and rig.sleeps == []


@pytest.mark.parametrize("status", [401, 403])
async def test_an_auth_failure_is_not_retried_but_moves_to_the_next_deployment(rig: Rig, status: int) -> None:
    rig.fake.always(rig.name("pair"), Fault.http(status), provider="fake_a")
    rig.fake.always(rig.name("pair"), Fault.http(status), provider="fake_b")
    done = await rig.complete("pair")
    assert rig.calls("pair", "fake_a") == 1 and rig.calls("pair", "fake_b") == 1
    assert done.served is not None and done.served.spec.id == rig.name("backup")
    assert rig.sleeps == []


async def test_content_policy_refusal_is_not_retried(rig: Rig) -> None:
    body = {
        "error": {"message": "refused", "type": "invalid_request_error", "code": "content_policy_violation"}
    }
    rig.fake.always(rig.name("solo"), Fault.http(400, body=body))
    with pytest.raises(BadRequest):
        await rig.complete("solo")
    assert rig.calls("solo") == 1 and rig.calls("backup") == 0


async def test_breaker_opens_skips_the_deployment_then_lets_one_probe_through(rig: Rig, redis: Redis) -> None:
    solo, breaker = rig.name("solo"), rig.router.breaker
    deployment = f"{solo}@fake_a#0"
    rig.fake.always(solo, Fault.http(503))
    first = await rig.complete("solo")  # three failures: the breaker (threshold 3) opens
    assert first.served is not None and first.served.spec.id == rig.name("backup")
    assert rig.calls("solo") == 3
    assert isinstance(breaker, Breaker) and await breaker.state(deployment) == "open"
    second = await rig.complete("solo")  # skipped without a call
    assert second.served is not None and second.served.spec.id == rig.name("backup")
    assert rig.calls("solo") == 3
    rig.fake.reset()
    rig.clock.now += 31  # the cool-down is over: the next request is the half-open probe
    third = await rig.complete("solo")
    assert third.served is not None and third.served.spec.id == solo
    assert rig.calls("solo") == 4
    assert await breaker.state(deployment) == "closed"


async def test_a_failed_probe_opens_the_breaker_again(rig: Rig) -> None:
    solo, breaker = rig.name("solo"), rig.router.breaker
    rig.fake.always(solo, Fault.http(503))
    await rig.complete("solo")
    rig.clock.now += 31
    await rig.complete("solo")  # the probe fails: open again at once, no retries on it
    assert rig.calls("solo") == 4
    assert isinstance(breaker, Breaker) and await breaker.state(f"{solo}@fake_a#0") == "open"


async def test_request_errors_do_not_count_against_the_breaker(rig: Rig) -> None:
    solo, breaker = rig.name("solo"), rig.router.breaker
    rig.fake.always(solo, Fault.http(400))
    for _ in range(4):
        with pytest.raises(BadRequest):
            await rig.complete("solo")
    assert isinstance(breaker, Breaker) and await breaker.state(f"{solo}@fake_a#0") == "closed"


async def test_load_is_spread_over_both_deployments(rig: Rig) -> None:
    for _ in range(12):
        await rig.complete("pair")
    a, b = rig.calls("pair", "fake_a"), rig.calls("pair", "fake_b")
    assert a + b == 12 and a >= 1 and b >= 1


async def test_a_deployment_over_its_rpm_is_skipped(rig: Rig) -> None:
    served = []
    for _ in range(6):
        done = await rig.complete("limited")
        assert done.served is not None
        served.append(done.served.deployment.provider)
    assert rig.calls("limited", "fake_a") <= 2  # rpm = 2 on fake_a
    assert served.count("fake_b") >= 4 and rig.sleeps == []


async def test_everything_failing_raises_all_providers_failed_with_retry_after(rig: Rig) -> None:
    rig.fake.always(rig.name("solo"), Fault.rate_limited(retry_after=2))
    rig.fake.always(rig.name("backup"), Fault.http(503))
    with pytest.raises(AllProvidersFailed) as raised:
        await rig.complete("solo")
    error = raised.value
    assert (error.status, error.code) == (503, "all_providers_failed")
    assert error.headers == {"Retry-After": "2"}
    assert rig.calls("solo") == 3 and rig.calls("backup") == 3
    assert rig.sleeps == [2.0, 2.0, 0.125, 0.25]


async def test_a_hang_before_the_first_byte_times_out_and_fails_over(rig: Rig) -> None:
    rig.fake.program(rig.name("quick"), Fault.hang())
    stream = await rig.router.open_stream(rig.chain("quick"), MESSAGES, {})
    try:
        assert stream.served.spec.id == rig.name("quick") and stream.served.attempts == 2
        text = "".join([d.text async for d in stream])
    finally:
        await stream.aclose()
    assert text == "".join(reply_words(4)) and rig.calls("quick") == 2
    assert rig.sleeps == [0.125]


async def test_a_stream_cut_before_its_first_token_fails_over_transparently(rig: Rig) -> None:
    rig.fake.always(rig.name("solo"), Fault.cut(after=0))
    stream = await rig.router.open_stream(rig.chain("solo"), MESSAGES, {})
    try:
        text = "".join([d.text async for d in stream])
    finally:
        await stream.aclose()
    assert stream.served.spec.id == rig.name("backup")
    assert text == "".join(reply_words(4))
    assert stream.usage is not None and stream.usage.reported


async def test_a_stream_failing_after_its_first_token_ends_with_the_error(rig: Rig, redis: Redis) -> None:
    rig.fake.always(rig.name("quick"), Fault.stall(after=2))
    stream = await rig.router.open_stream(rig.chain("quick", max_tokens=8), MESSAGES, {})
    got: list[str] = []

    async def read() -> None:
        try:
            async for delta in stream:
                got.append(delta.text)
        finally:
            await stream.aclose()

    with pytest.raises(AppError) as raised:
        await read()
    assert raised.value.code == "provider_timeout"
    assert got == reply_words(2) and rig.calls("backup") == 0 and rig.calls("quick") == 1
    # The idle timeout counts against the deployment's breaker like any provider fault.
    breaker = rig.router.breaker
    assert isinstance(breaker, Breaker)
    assert await redis.zcard(breaker.keys(f"{rig.name('quick')}@fake_a#0")[1]) == 1
