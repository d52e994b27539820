"""Failover, load balancing, `auto` and money through the API, against the fake provider fleet.

The fleet models (tests/fakes/provider.py): fleet-main on fake_a and fake_b, falling back to
fleet-backup (fake_b, cheaper); fleet-solo -> fleet-solo-backup; fleet-cheap -> fleet-pricey (ten
times the price); fleet-lb on two providers; fleet-rpm with rpm = 2 on fake_a. Two attempts per
deployment. The `fleet` fixture clears the scripted faults and the fleet's breakers afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from shared.catalog.catalog import ModelSpec
from shared.ledger.ledger import Ledger
from shared.settings import Settings
from tests.fakes.provider import (
    FLEET_PRICES,
    INPUT_PRICE,
    OUTPUT_PRICE,
    FakeProvider,
    Fault,
    prompt_tokens,
    reply_words,
)
from tests.support.helpers import User, balance, drain_to, rid, sse_events, usage_for, wait_settled

MESSAGES = [{"role": "user", "content": "say something nice"}]


def price(model: str) -> ModelSpec:
    input_price, output_price = FLEET_PRICES.get(model, (INPUT_PRICE, OUTPUT_PRICE))
    return ModelSpec(model, "fake", "openai/" + model, input_price, output_price, 8192, 2048)


def chat(client: httpx.Client, user: User, **body: Any) -> httpx.Response:
    headers = {**user.headers, **rid()}
    return client.post("/v1/chat/completions", json={"messages": MESSAGES, **body}, headers=headers)


def stream(client: httpx.Client, user: User, **body: Any) -> tuple[httpx.Headers, int, list[Any]]:
    headers = {**user.headers, **rid()}
    payload = {"messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}, **body}
    with client.stream("POST", "/v1/chat/completions", headers=headers, json=payload) as r:
        events = sse_events(list(r.iter_lines())) if r.status_code == 200 else [r.read()]
        return r.headers, r.status_code, events


def text_of(events: list[Any]) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content", "")
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


def test_fallback_before_any_answer_is_transparent(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    fleet.always("fleet-main", Fault.http(503))
    before = balance(client, user.headers)
    response = chat(client, user, model="fleet-main", max_tokens=4)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model"], body["provider"]) == ("fleet-backup", "fake_b")
    assert (response.headers["x-model"], response.headers["x-provider"]) == ("fleet-backup", "fake_b")
    assert body["choices"][0]["message"]["content"] == "".join(reply_words(4))
    # Two deployments, two attempts each, then the fallback.
    assert len(fleet.calls_for("fleet-main")) == 4 and len(fleet.calls_for("fleet-backup")) == 1
    charged = price("fleet-backup").cost(prompt_tokens(MESSAGES), 4)  # at the serving model's price
    assert body["credits"] == charged
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged
    record = usage_for(response.headers["x-request-id"])
    assert (record["model"], record["provider"], record["requested_model"]) == (
        "fleet-backup",
        "fake_b",
        "fleet-main",
    )
    assert record["deployment"] == "fleet-backup@fake_b#0" and record["attempts"] == 5
    assert record["credits"] == charged and record["outcome"] == "ok"


def test_stream_failing_before_its_first_token_fails_over_transparently(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    fleet.always("fleet-main", Fault.cut(after=0), provider="fake_a")
    fleet.always("fleet-main", Fault.overloaded(), provider="fake_b")
    before = balance(client, user.headers)
    headers, status, events = stream(client, user, model="fleet-main", max_tokens=5)
    assert status == 200, events
    assert (headers["x-model"], headers["x-provider"]) == ("fleet-backup", "fake_b")
    assert text_of(events) == "".join(reply_words(5))
    assert not any(isinstance(e, dict) and "error" in e for e in events)
    final, usage = events[-3], events[-2]
    assert final["choices"][0]["finish_reason"] and final["provider"] == "fake_b"
    assert final["model"] == "fleet-backup" and usage["provider"] == "fake_b"
    charged = price("fleet-backup").cost(prompt_tokens(MESSAGES), 5)
    assert usage["credits"] == charged
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_stream_failing_after_its_first_token_ends_with_an_error_and_pays_the_part(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    fleet.always("fleet-solo", Fault.cut(after=3))
    before = balance(client, user.headers)
    headers, status, events = stream(client, user, model="fleet-solo", max_tokens=50)
    assert status == 200 and headers["x-model"] == "fleet-solo"
    assert text_of(events) == "".join(reply_words(3))
    assert any(isinstance(e, dict) and "error" in e for e in events), events
    assert events[-1] == "[DONE]"
    assert len(fleet.calls_for("fleet-solo")) == 1 and fleet.calls_for("fleet-solo-backup") == []
    record = usage_for(headers["x-request-id"])
    assert record["outcome"] == "partial" and record["output_tokens"] == 3
    assert record["credits"] == price("fleet-solo").cost(record["input_tokens"], 3)
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


@pytest.mark.parametrize("streamed", [False, True])
def test_when_everything_fails_the_answer_is_503_and_nothing_is_charged(
    client: httpx.Client, user: User, fleet: FakeProvider, streamed: bool
) -> None:
    fleet.always("fleet-solo", Fault.rate_limited(retry_after=0))
    fleet.always("fleet-solo-backup", Fault.http(503))
    before = balance(client, user.headers)
    response = chat(client, user, model="fleet-solo", max_tokens=5, stream=streamed)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "all_providers_failed" and "Nothing was charged" in error["message"]
    assert response.headers["retry-after"] == "1"
    assert len(fleet.calls_for("fleet-solo")) == 2 and len(fleet.calls_for("fleet-solo-backup")) == 2
    assert balance(client, user.headers) == before
    record = usage_for(response.headers["x-request-id"])
    assert record["outcome"] == "error" and record["credits"] == 0
    assert record["error_code"] == "all_providers_failed" and record["attempts"] == 4


def test_a_pricier_fallback_serves_when_the_hold_covers_it(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    fleet.always("fleet-cheap", Fault.http(500))
    before = balance(client, user.headers)
    response = chat(client, user, model="fleet-cheap", max_tokens=10)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "fleet-pricey"
    charged = price("fleet-pricey").cost(prompt_tokens(MESSAGES), 10)
    assert response.json()["credits"] == charged
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_a_pricier_fallback_the_hold_cannot_cover_is_left_out(
    client: httpx.Client, user: User, fleet: FakeProvider, settings: Settings
) -> None:
    probe = chat(client, user, model="fleet-cheap", max_tokens=1)
    estimate = usage_for(probe.headers["x-request-id"])["input_tokens"] + 5
    # Enough for the requested model's whole answer, a tenth of the fallback's.
    leave = price("fleet-cheap").cost(estimate, 10)
    assert price("fleet-pricey").cost(estimate - 5, 10) > leave
    drain_to(settings, user.user_id, leave=leave)
    fleet.always("fleet-cheap", Fault.http(500))
    before = balance(client, user.headers)
    response = chat(client, user, model="fleet-cheap", max_tokens=10)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "all_providers_failed"
    assert fleet.calls_for("fleet-pricey") == []
    assert balance(client, user.headers) == before


def test_settle_never_charges_more_than_the_hold(settings: Settings, user: User) -> None:
    async def run() -> tuple[int, int]:
        db = firestore.AsyncClient(project=settings.gcp_project)
        ledger = Ledger(db, settings)
        hold = await ledger.reserve(user.user_id, uuid.uuid4().hex, want=40, minimum=40, ref="test")
        done = await ledger.settle(user.user_id, hold.id, 95)
        db.close()
        return hold.amount, done.charged

    held, charged = asyncio.run(run())
    assert (held, charged) == (40, 40)


@pytest.mark.parametrize(
    ("content", "model", "reason"),
    [
        ("hello there", "fake-echo", "cheap: easy"),
        ("please prove this lemma", "fleet-strong", "strong: keyword 'prove'"),
        ("word " * 80, "fleet-strong", "strong: prompt of "),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_auto_sends_easy_requests_to_the_cheap_model_and_hard_ones_to_the_strong(
    client: httpx.Client,
    user: User,
    fleet: FakeProvider,
    content: str,
    model: str,
    reason: str,
    streamed: bool,
) -> None:
    messages = [{"role": "user", "content": content}]
    if streamed:
        headers, status, events = stream(client, user, model="auto", messages=messages, max_tokens=3)
        assert status == 200
        usage = events[-2]
        assert (usage["model"], usage["provider"]) == (model, "fake" if model == "fake-echo" else "fake_a")
        credits = usage["credits"]
    else:
        response = chat(client, user, model="auto", messages=messages, max_tokens=3)
        assert response.status_code == 200, response.text
        headers = response.headers
        assert response.json()["model"] == model
        credits = response.json()["credits"]
    assert headers["x-model"] == model and headers["x-route-reason"].startswith(reason)
    assert credits == price(model).cost(prompt_tokens(messages), 3)
    record = usage_for(headers["x-request-id"])
    assert record["route_reason"] == headers["x-route-reason"] and record["model"] == model


def test_load_is_balanced_across_deployments(client: httpx.Client, user: User, fleet: FakeProvider) -> None:
    for _ in range(12):
        assert chat(client, user, model="fleet-lb", max_tokens=2).status_code == 200
    a, b = len(fleet.calls_for("fleet-lb", "fake_a")), len(fleet.calls_for("fleet-lb", "fake_b"))
    assert a + b >= 12 and a >= 1 and b >= 1


def test_a_deployment_over_its_rpm_is_skipped(client: httpx.Client, user: User, fleet: FakeProvider) -> None:
    providers = []
    for _ in range(6):
        response = chat(client, user, model="fleet-rpm", max_tokens=2)
        assert response.status_code == 200
        providers.append(response.headers["x-provider"])
    assert len(fleet.calls_for("fleet-rpm", "fake_a")) <= 2
    assert providers.count("fake_b") >= 4


def test_thread_reply_names_the_serving_model(client: httpx.Client, user: User, fleet: FakeProvider) -> None:
    thread_id = client.post("/v1/threads", json={}, headers=user.headers).json()["id"]
    fleet.always("fleet-main", Fault.http(503))
    response = client.post(
        f"/v1/threads/{thread_id}/messages",
        headers=user.headers,
        json={"content": "hi", "model": "fleet-main", "max_tokens": 3, "stream": False},
    )
    assert response.status_code == 200, response.text
    assert (response.headers["x-model"], response.headers["x-provider"]) == ("fleet-backup", "fake_b")
    assert response.json()["model"] == "fleet-backup"


def test_a_replay_names_the_model_that_served_the_original(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    fleet.always("fleet-main", Fault.http(503))
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"model": "fleet-main", "messages": MESSAGES, "max_tokens": 3, "stream": True}
    with client.stream("POST", "/v1/chat/completions", headers={**user.headers, **key}, json=body) as r:
        assert r.status_code == 200 and r.headers["x-model"] == "fleet-backup"
        r.read()
    with client.stream("POST", "/v1/chat/completions", headers={**user.headers, **key}, json=body) as r:
        assert r.headers["idempotent-replayed"] == "true"
        assert (r.headers["x-model"], r.headers["x-provider"]) == ("fleet-backup", "fake_b")
        events = sse_events(list(r.iter_lines()))
    final = next(
        e for e in events if isinstance(e, dict) and e.get("choices") and e["choices"][0]["finish_reason"]
    )
    assert (final["model"], final["provider"]) == ("fleet-backup", "fake_b")
