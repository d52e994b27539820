"""A native-lane call for a model in the build-time parameter table (shared/gateway/native/params.json)
never imports litellm, so an instance's first streamed token does not wait for litellm's 2.75 s import
(issue 15, item 3). The same call for a model missing from the table still asks litellm."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis

import shared.gateway.calls as calls
import shared.gateway.lazy as lazy
from shared.adapters.secrets import EnvSecrets
from shared.catalog.catalog import Catalog
from shared.errors import AppError
from shared.gateway.balancer import Balancer
from shared.gateway.breaker import Breaker
from shared.gateway.calls import Caller
from shared.gateway.retry import RetryPolicy
from shared.gateway.router import Router
from shared.gateway.types import Candidate
from shared.settings import Settings
from tests.fakes.provider import FakeProvider

pytestmark = pytest.mark.anyio


def router_for(tmp_path: Path, redis: Redis, fleet: FakeProvider, name: str) -> tuple[Router, Caller]:
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "native.toml"
    path.write_text(
        f'[providers.fake]\napi_base = "{fleet.base_url}"\napi_key = "k"\n'
        f'[[models]]\nid = "m-{tag}"\nprovider = "fake"\nlitellm_model = "openai/{name}"\n'
        "input_price = 100000\noutput_price = 200000\ncontext_window = 8192\nmax_output_tokens = 512\n"
    )
    settings = Settings(native_lane=True)
    catalog = Catalog.load(settings, EnvSecrets({}), path)
    caller = Caller(settings)
    router = Router(
        catalog,
        settings,
        Breaker(redis, failure_threshold=3, window_s=60, open_s=30, prefix=f"cb:{tag}:"),
        Balancer(redis, "least_inflight", prefix=f"lb:{tag}:", rand=lambda: 0.5),
        caller,
        policy=RetryPolicy(max_attempts=1, base_s=0.25, cap_s=8.0, max_retry_after_s=20.0),
    )
    return router, caller


@pytest.fixture
def litellm_unloaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """litellm looks not imported, and any attempt to import it is noted and refused."""
    asked: list[str] = []

    def refuse() -> None:
        asked.append("litellm")
        raise AssertionError("a native call imported litellm")

    async def refuse_async() -> None:
        refuse()

    monkeypatch.setattr(calls, "is_loaded", lambda: False)
    monkeypatch.setattr(calls, "load_litellm", refuse_async)
    monkeypatch.setattr(lazy, "litellm", refuse)
    return asked


@pytest.mark.parametrize("name", ["gpt-4o-mini", "my-llama-3-8b"], ids=["in-the-table", "self-hosted"])
async def test_a_stream_on_a_model_in_the_table_never_asks_litellm(
    tmp_path: Path, redis: Redis, fake_provider: FakeProvider, litellm_unloaded: list[str], name: str
) -> None:
    router, caller = router_for(tmp_path, redis, fake_provider, name)
    spec = next(iter(router.catalog.models.values()))
    try:
        stream = await router.open_stream([Candidate(spec, 4, 10)], [{"role": "user", "content": "hi"}], {})
        text = "".join([delta.text async for delta in stream])
        await stream.aclose()
        done = await router.complete([Candidate(spec, 4, 10)], [{"role": "user", "content": "hi"}], {})
    finally:
        await caller.aclose()
    assert text and done.text
    assert caller.native is not None and caller.native.attempts == 2
    assert litellm_unloaded == []


async def test_a_model_missing_from_the_table_asks_litellm(
    tmp_path: Path, redis: Redis, fake_provider: FakeProvider, litellm_unloaded: list[str]
) -> None:
    router, caller = router_for(tmp_path, redis, fake_provider, f"gpt-added-later-{uuid.uuid4().hex[:6]}")
    spec = next(iter(router.catalog.models.values()))
    try:
        with pytest.raises(AppError, match=r"failed \(AssertionError\)"):
            await router.complete([Candidate(spec, 4, 10)], [{"role": "user", "content": "hi"}], {})
    finally:
        await caller.aclose()
    assert litellm_unloaded == ["litellm"]
