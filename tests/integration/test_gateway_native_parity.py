"""The native lane and the litellm lane against the same fault scripts: the same classification, retries,
fallbacks, answers and charges (shared/gateway/native/).

Each scenario runs twice on the fake provider fleet, once per lane, each on its own uniquely named models
(so breakers and balancers start alike); what each lane saw is reduced to plain data with the names'
tag removed, and the two must be equal: the answer or the error (type, code, status), the classifier's
verdict on it (kind, retryable, Retry-After, status), the calls the provider received (deployment,
streamed or not, answered status), the router's backoff delays, the serving deployment, the usage
(reported or not, tokens) and so the credits it costs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from shared.adapters.secrets import EnvSecrets
from shared.catalog.catalog import Catalog
from shared.errors import AppError
from shared.gateway.balancer import Balancer
from shared.gateway.breaker import Breaker
from shared.gateway.calls import Caller
from shared.gateway.retry import RetryPolicy, classify
from shared.gateway.router import Router
from shared.gateway.types import Candidate, Usage
from shared.settings import Settings
from tests.fakes.provider import FakeProvider, Fault

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "say something"}]


def _refusal(message: str, code: str) -> Fault:
    return Fault.http(
        400, body={"error": {"message": message, "type": "invalid_request_error", "code": code}}
    )


CONTEXT = _refusal("This model's maximum context length is 8192 tokens.", "context_length_exceeded")
POLICY = _refusal("Your request was flagged.", "content_policy_violation")
RATE_TEXT = Fault.http(500, body={"error": {"message": "Rate limit reached for requests", "type": "x"}})
# (name, model, the fault scripts per provider (None: any provider)); each runs whole and streamed.
Script = dict[str | None, list[Fault | None]]
SCENARIOS: list[tuple[str, str, Script]] = [
    ("ok", "pair", {}),
    ("429-then-ok", "solo", {None: [Fault.rate_limited(1)]}),
    ("429-long-retry-after", "pair", {"fake_a": [Fault.rate_limited(60)]}),
    ("500-then-ok", "solo", {None: [Fault.http(500)]}),
    ("503-everywhere", "pair", {None: [Fault.http(503)] * 6}),
    ("529-overloaded", "solo", {None: [Fault.overloaded()]}),
    ("502-504", "solo", {None: [Fault.http(502), Fault.http(504)]}),
    ("400", "pair", {None: [Fault.http(400)]}),
    ("401", "pair", {"fake_a": [Fault.http(401)]}),
    ("402", "pair", {"fake_a": [Fault.http(402)]}),
    ("403", "pair", {"fake_a": [Fault.http(403)]}),
    ("404", "pair", {None: [Fault.http(404)]}),
    ("408", "solo", {None: [Fault.http(408)]}),
    ("422", "pair", {None: [Fault.http(422)]}),
    ("context-window", "pair", {None: [CONTEXT]}),
    ("content-policy", "pair", {None: [POLICY]}),
    ("rate-limit-text-in-a-500", "solo", {None: [RATE_TEXT]}),
    ("hang", "quick", {None: [Fault.hang()]}),
    ("cut-before-first-token", "solo", {None: [Fault.cut(after=0)] * 3}),
    ("cut-mid-stream", "solo", {None: [Fault.cut(after=2)]}),
    ("stall-mid-stream", "quick", {None: [Fault.stall(after=2)]}),
]


@dataclass(frozen=True)
class Seen:
    result: Any
    failure: Any
    calls: Any
    sleeps: Any
    usage: Any


def model_toml(tag: str, name: str, providers: list[str], fallbacks: list[str], wait_s: float = 10.0) -> str:
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
    for provider in providers:
        lines += ["[[models.deployments]]", f'provider = "{provider}"']
    return "\n".join(lines) + "\n"


def build(
    tmp_path: Path, redis: Redis, fleet: FakeProvider, tag: str, native: bool
) -> tuple[Router, list[float]]:
    root = fleet.base_url.removesuffix("/v1")
    toml = "".join(
        f'[providers.{p}]\napi_base = "{root}/{p}/v1"\napi_key = "k"\n' for p in ("fake_a", "fake_b")
    )
    toml += model_toml(tag, "solo", ["fake_a"], ["backup"])
    toml += model_toml(tag, "pair", ["fake_a", "fake_b"], ["backup"])
    toml += model_toml(tag, "backup", ["fake_b"], [])
    toml += model_toml(tag, "quick", ["fake_a"], ["backup"], wait_s=1.0)
    path = tmp_path / f"parity-{tag}.toml"
    path.write_text(toml)
    settings = Settings(native_lane=native)
    catalog = Catalog.load(settings, EnvSecrets({}), path)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    router = Router(
        catalog,
        settings,
        Breaker(redis, failure_threshold=3, window_s=60, open_s=30, prefix=f"cb:{tag}:"),
        Balancer(redis, "least_inflight", prefix=f"lb:{tag}:", rand=lambda: 0.5),
        Caller(settings),
        policy=RetryPolicy(max_attempts=3, base_s=0.25, cap_s=8.0, max_retry_after_s=20.0),
        sleep=sleep,
        rand=lambda: 0.5,
    )
    return router, sleeps


def error_of(exc: BaseException) -> tuple[Any, ...]:
    assert isinstance(exc, AppError), exc
    return (type(exc).__name__, exc.code, exc.status, exc.headers.get("Retry-After"))


def verdict(exc: BaseException) -> tuple[Any, ...]:
    f = classify(exc)
    return (f.kind, f.retryable, f.retry_after, f.status, f.provider_fault)


def usage_of(usage: Usage | None) -> tuple[Any, ...] | None:
    return None if usage is None else (usage.input_tokens, usage.output_tokens, usage.reported)


async def run(
    router: Router,
    sleeps: list[float],
    fleet: FakeProvider,
    tag: str,
    model: str,
    script: Script,
    stream: bool,
) -> Seen:
    """One scenario on one lane: what it saw."""
    name = f"{model}-{tag}"
    for provider, faults in script.items():
        fleet.program(name, *faults, provider=provider)
    spec = router.catalog.models[name]
    chain = [Candidate(s, 4, 10) for s in (spec, *router.catalog.fallbacks(spec))]
    result: Any
    failure: Any = None
    usage: Any = None
    try:
        if stream:
            opened = await router.open_stream(chain, MESSAGES, {})
            texts: list[str] = []
            try:
                async for delta in opened:
                    texts.append(delta.text)
                result = ("stream", opened.served.deployment.id.replace(tag, "T"), "".join(texts))
            except AppError as exc:
                failure = verdict(exc)
                result = ("cut", opened.served.deployment.id.replace(tag, "T"), "".join(texts), error_of(exc))
            finally:
                await opened.aclose()
            usage = usage_of(opened.usage)
        else:
            done = await router.complete(chain, MESSAGES, {})
            assert done.served is not None
            result = ("ok", done.served.deployment.id.replace(tag, "T"), done.text, done.finish_reason)
            usage = (*usage_of(done.usage), done.usage.cost(done.served.spec))  # type: ignore[misc]
    except AppError as exc:
        result = ("error", error_of(exc))
        failure = verdict(exc)
    calls = [
        (c.model.replace(tag, "T"), c.provider, c.stream, c.status) for c in fleet.calls if tag in c.model
    ]
    return Seen(result, failure, calls, list(sleeps), usage)


STREAM_ONLY = ("cut-before-first-token", "cut-mid-stream", "stall-mid-stream")
CASES = [
    pytest.param(model, script, stream, id=f"{name}-{'stream' if stream else 'whole'}")
    for name, model, script in SCENARIOS
    for stream in (False, True)
    if stream or name not in STREAM_ONLY
]


@pytest.mark.parametrize(("model", "script", "stream"), CASES)
async def test_both_lanes_classify_retry_fall_back_and_charge_alike(
    tmp_path: Path, redis: Redis, fleet: FakeProvider, model: str, script: Script, stream: bool
) -> None:
    seen = {}
    for native in (True, False):
        tag = uuid.uuid4().hex[:8]
        router, sleeps = build(tmp_path, redis, fleet, tag, native)
        seen[native] = await run(router, sleeps, fleet, tag, model, script, stream)
        lane = router.caller.native
        assert (lane is not None and lane.attempts == len(seen[native].calls)) is native
        await router.caller.aclose()
    assert seen[True] == seen[False]
