"""The response cache in the chat path, through the API: hits are free by default, never reach the
provider, never cross tenants, can be streamed back, and are counted in usage records."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from google.cloud import firestore
from redis.asyncio import Redis

from shared.auth.schemas import Principal
from shared.cache.exact import ResponseCache
from shared.cache.types import CachedAnswer
from shared.catalog.catalog import ModelSpec
from shared.chat.caching import ChatCache
from shared.ledger.ledger import Ledger
from shared.settings import Settings
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder
from tests.fakes.provider import FakeProvider
from tests.support.helpers import User, balance, rid, sse_events, usage_for, wait_settled


def ask(
    client: httpx.Client, user: User, question: str, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    payload = {"model": "fake-echo", "messages": [{"role": "user", "content": question}], **body}
    extra = {**user.headers, **rid(), **(headers or {})}
    return client.post("/v1/chat/completions", json=payload, headers=extra)


def question() -> str:
    return f"tell me about {uuid.uuid4().hex[:8]}"


def test_identical_deterministic_request_is_served_from_cache_for_free(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    q = question()
    first = ask(client, user, q, temperature=0)
    assert first.status_code == 200, first.text
    assert first.headers["X-Cache"] == "miss"
    after_first = wait_settled(client, user.headers)
    calls = len(fleet.calls_for("fake-echo"))

    second = ask(client, user, q, temperature=0)
    assert second.status_code == 200, second.text
    assert second.headers["X-Cache"] == "hit"
    assert second.headers["X-Cache-Match"] == "exact"
    assert second.headers["X-Credits-Charged"] == "0"
    content = first.json()["choices"][0]["message"]["content"]
    assert second.json()["choices"][0]["message"]["content"] == content
    tokens = ("prompt_tokens", "completion_tokens", "total_tokens")
    assert {k: second.json()["usage"][k] for k in tokens} == {k: first.json()["usage"][k] for k in tokens}
    assert (second.json()["usage"]["credits"], second.json()["usage"]["cost"]) == (0, 0.0)
    assert first.json()["usage"]["credits"] > 0
    assert len(fleet.calls_for("fake-echo")) == calls, "a hit must not reach the provider"
    assert balance(client, user.headers) == after_first
    record = usage_for(second.headers["X-Request-ID"])
    assert (record["outcome"], record["credits"], record["attempts"]) == ("cache_hit", 0, 0)
    assert record["output_tokens"] == first.json()["usage"]["completion_tokens"]


def test_another_tenant_never_gets_a_cached_answer(
    client: httpx.Client, make_user: Any, fleet: FakeProvider
) -> None:
    alice, bob = make_user(), make_user()
    q = question()
    assert ask(client, alice, q, temperature=0).headers["X-Cache"] == "miss"
    calls = len(fleet.calls_for("fake-echo"))
    answer = ask(client, bob, q, temperature=0)
    assert answer.headers["X-Cache"] == "miss"
    assert len(fleet.calls_for("fake-echo")) == calls + 1
    assert int(answer.headers["X-Credits-Charged"]) > 0


def test_nondeterministic_requests_bypass_unless_opted_in(client: httpx.Client, user: User) -> None:
    q = question()
    assert ask(client, user, q, temperature=0.7).headers["X-Cache"] == "bypass"
    assert ask(client, user, q, temperature=0.7).headers["X-Cache"] == "bypass"
    opted = {"X-Cache": "on"}
    assert ask(client, user, q, opted, temperature=0.7).headers["X-Cache"] == "miss"
    assert ask(client, user, q, opted, temperature=0.7).headers["X-Cache"] == "hit"


def test_no_cache_skips_the_lookup_and_no_store_skips_the_write(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    q = question()
    assert ask(client, user, q, {"Cache-Control": "no-store"}, temperature=0).headers["X-Cache"] == "bypass"
    assert ask(client, user, q, temperature=0).headers["X-Cache"] == "miss"  # no-store stored nothing
    calls = len(fleet.calls_for("fake-echo"))
    fresh = ask(client, user, q, {"Cache-Control": "no-cache"}, temperature=0)
    assert fresh.headers["X-Cache"] == "bypass"
    assert len(fleet.calls_for("fake-echo")) == calls + 1
    assert ask(client, user, q, temperature=0).headers["X-Cache"] == "hit"


def test_a_cached_answer_streams_back_in_pieces(client: httpx.Client, user: User) -> None:
    q = question()
    stored = ask(client, user, q, temperature=0).json()["choices"][0]["message"]["content"]
    payload = {
        "model": "fake-echo",
        "messages": [{"role": "user", "content": q}],
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", "/v1/chat/completions", json=payload, headers={**user.headers, **rid()}) as r:
        assert r.status_code == 200
        assert r.headers["X-Cache"] == "hit"
        events = sse_events(list(r.iter_lines()))
    pieces = [
        e["choices"][0]["delta"]["content"]
        for e in events
        if isinstance(e, dict) and e.get("choices") and e["choices"][0]["delta"].get("content")
    ]
    assert len(pieces) > 1
    assert "".join(pieces) == stored
    assert events[-1] == "[DONE]"
    assert any(isinstance(e, dict) and e.get("usage") for e in events)


def test_errors_and_cut_streams_are_not_cached(client: httpx.Client, user: User) -> None:
    q = question()
    for _ in range(2):
        failed = ask(client, user, q, temperature=0, model="fake-500")
        assert failed.status_code == 503
        assert failed.headers.get("X-Cache") != "hit"
    q = question()
    payload = {
        "model": "fake-cut",
        "messages": [{"role": "user", "content": q}],
        "temperature": 0,
        "stream": True,
    }
    for _ in range(2):
        with client.stream(
            "POST", "/v1/chat/completions", json=payload, headers={**user.headers, **rid()}
        ) as r:
            assert r.status_code == 200
            assert r.headers["X-Cache"] == "miss"
            events = sse_events(list(r.iter_lines()))
        assert any(isinstance(e, dict) and "error" in e for e in events), "the cut stream ends with an error"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_hit_price_is_a_share_of_the_original_cost(settings: Settings, anyio_backend: str) -> None:
    """With cache_hit_price_percent = 25 a hit costs a quarter of the original, rounded up, through the
    ledger (reserve + settle), and the usage record says so."""
    priced = settings.model_copy(update={"cache_hit_price_percent": 25})
    db = firestore.AsyncClient(project=settings.gcp_project)
    redis = Redis.from_url(settings.redis_url)
    try:
        ledger = Ledger(db, priced)
        wallet = f"w-cache-{uuid.uuid4().hex}"
        await ledger.grant(wallet, 10_000, "start")
        spec = ModelSpec("fake-echo", "fake", "openai/fake-echo", 100_000, 200_000, 8192, 2048)
        cache = ChatCache(ResponseCache(redis, 60), Payer(ledger), UsageRecorder(db), priced)
        answer = CachedAnswer(
            text="alpha delta", finish_reason="stop", model="fake-echo", provider="fake",
            input_tokens=15, output_tokens=2, created=0,
        )  # fmt: skip
        principal = Principal(user_id="u-cache", wallet_id=wallet, auth="jwt")
        request_id = uuid.uuid4().hex
        result = await cache.serve(principal, request_id, spec, answer, started=0.0)
        original = spec.cost(15, 2)  # 15*0.1 + 2*0.2 = 1.9 -> 2 credits
        assert result.credits == -(-original * 25 // 100)
        assert (await ledger.balance(wallet)).available == 10_000 - result.credits
        record = await asyncio.to_thread(usage_for, request_id)
        assert (record["outcome"], record["credits"]) == ("cache_hit", result.credits)
    finally:
        await redis.aclose()
        db.close()
