"""Chat completions against the scripted fake provider: metering, faults, streaming, idempotency."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from shared.catalog.catalog import ModelSpec
from shared.settings import Settings
from tests.fakes.provider import INPUT_PRICE, OUTPUT_PRICE, FakeProvider, prompt_tokens, reply_words
from tests.support.helpers import User, balance, drain_to, rid, sse_events, usage_for, wait_settled

PRICE = ModelSpec("fake", "fake", "openai/fake", INPUT_PRICE, OUTPUT_PRICE, 8192, 2048)
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say something nice"}]


def chat(client: httpx.Client, user: User, **body: Any) -> httpx.Response:
    headers = {**user.headers, **rid(), **body.pop("headers", {})}
    return client.post("/v1/chat/completions", json={"messages": MESSAGES, **body}, headers=headers)


def test_completion_charges_exactly_the_reported_usage(client: httpx.Client, user: User) -> None:
    before = balance(client, user.headers)
    response = chat(client, user, model="fake-echo", max_tokens=7)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "".join(reply_words(7))
    expected = PRICE.cost(prompt_tokens(MESSAGES), 7)
    assert body["usage"] == {
        "prompt_tokens": prompt_tokens(MESSAGES),
        "completion_tokens": 7,
        "total_tokens": prompt_tokens(MESSAGES) + 7,
        "credits": expected,
        "cost": expected / 1_000_000,
    }
    assert body["credits"] == expected
    assert response.headers["x-credits-charged"] == str(expected)
    assert response.headers["x-model"] == "fake-echo"
    after = wait_settled(client, user.headers)
    assert after == {"available": before["available"] - expected, "reserved": 0}
    record = usage_for(response.headers["x-request-id"])
    assert record["credits"] == expected and record["outcome"] == "ok"
    assert (record["input_tokens"], record["output_tokens"]) == (prompt_tokens(MESSAGES), 7)
    assert (
        record["model"] == "fake-echo" and record["provider"] == "fake" and record["user_id"] == user.user_id
    )
    assert record["latency_ms"] >= 0 and record["ttft_ms"] is not None


def test_stream_sends_chunks_then_usage_then_done(client: httpx.Client, user: User) -> None:
    before = balance(client, user.headers)
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers={**user.headers, **rid()},
        json={
            "model": "fake-echo",
            "messages": MESSAGES,
            "stream": True,
            "max_tokens": 5,
            "stream_options": {"include_usage": True},
        },
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(list(response.iter_lines()))
    assert events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1] if e.get("choices"))
    assert text == "".join(reply_words(5))
    usage = events[-2]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 5
    charged = PRICE.cost(prompt_tokens(MESSAGES), 5)
    assert usage["credits"] == charged
    assert (usage["usage"]["credits"], usage["usage"]["cost"]) == (charged, charged / 1_000_000)
    # OpenAI's shape: with include_usage the finish chunk itself carries no usage.
    assert events[-3]["choices"][0]["finish_reason"] == "length" and "usage" not in events[-3]
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_stream_without_include_usage_ends_with_the_charge_on_the_finish_chunk(
    client: httpx.Client, user: User
) -> None:
    before = balance(client, user.headers)
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers={**user.headers, **rid()},
        json={"model": "fake-echo", "messages": MESSAGES, "stream": True, "max_tokens": 3},
    ) as response:
        events = sse_events(list(response.iter_lines()))
    assert events[-1] == "[DONE]"
    assert all(e["choices"] for e in events[:-1]), "no empty-choices chunk unless include_usage asks"
    final = events[-2]
    assert final["choices"][0]["finish_reason"] == "length"
    charged = PRICE.cost(prompt_tokens(MESSAGES), 3)
    assert final["usage"]["completion_tokens"] == 3
    assert (final["usage"]["credits"], final["usage"]["cost"]) == (charged, charged / 1_000_000)
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_stream_chunks_arrive_incrementally(client: httpx.Client, user: User) -> None:
    arrivals = []
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers=user.headers,
        json={"model": "fake-slow", "messages": MESSAGES, "stream": True, "max_tokens": 6},
    ) as r:
        for line in r.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                arrivals.append(time.monotonic())
    assert len(arrivals) == 6
    # The fake emits one word every 50 ms: buffering would deliver them all at once.
    assert arrivals[-1] - arrivals[0] > 0.15


# These scripts fail every request and have no fallback (max_attempts = 1): the router gives up with
# one answer for every cause, 503 all_providers_failed (tests/integration/test_gateway_* cover retries).
@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("fake-500", 503, "all_providers_failed"),
        ("fake-429", 503, "all_providers_failed"),
        ("fake-hang", 503, "all_providers_failed"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_failed_call_is_never_charged(
    client: httpx.Client, user: User, model: str, status: int, code: str, stream: bool
) -> None:
    before = balance(client, user.headers)
    response = chat(client, user, model=model, stream=stream)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert balance(client, user.headers) == before
    record = usage_for(response.headers["x-request-id"])
    assert record["outcome"] == "error" and record["credits"] == 0


def test_cut_stream_settles_only_the_partial_usage(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    before = balance(client, user.headers)
    headers = {**user.headers, **rid()}
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers=headers,
        json={
            "model": "fake-cut",
            "messages": MESSAGES,
            "stream": True,
            "max_tokens": 50,
            "stream_options": {"include_usage": True},
        },
    ) as response:
        assert response.status_code == 200
        events = sse_events(list(response.iter_lines()))
    words = [
        e["choices"][0]["delta"]["content"]
        for e in events
        if e != "[DONE]" and e.get("choices") and e["choices"][0]["delta"].get("content")
    ]
    assert words == reply_words(5)
    errors = [e for e in events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1, events
    record = usage_for(headers["X-Request-ID"])
    assert record["outcome"] == "partial"
    assert record["output_tokens"] == 5 and not record["usage_reported"]
    assert 0 < record["credits"] < PRICE.cost(record["input_tokens"], 50)
    assert record["credits"] == PRICE.cost(record["input_tokens"], 5)
    # The error event says what the part that arrived cost.
    assert errors[0]["usage"]["credits"] == record["credits"] == errors[0]["credits"]
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_disconnect_cancels_upstream_and_charges_what_was_produced(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    before = balance(client, user.headers)
    headers = {**user.headers, **rid()}
    seen = 0
    calls_before = len(fake_provider.calls_for("fake-slow"))
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers=headers,
        json={"model": "fake-slow", "messages": MESSAGES, "stream": True, "max_tokens": 400},
    ) as response:
        for line in response.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                seen += 1
            if seen == 5:
                break
    record = usage_for(headers["X-Request-ID"])
    call = fake_provider.calls_for("fake-slow")[calls_before]
    deadline = time.monotonic() + 5
    while not call.disconnected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert call.disconnected, "the upstream stream was not closed"
    assert call.chunks_sent < 100, "the provider kept generating after the client left"
    assert record["outcome"] == "cancelled"
    assert 5 <= record["output_tokens"] <= call.chunks_sent + 1
    assert record["credits"] == PRICE.cost(record["input_tokens"], record["output_tokens"])
    assert record["credits"] < PRICE.cost(record["input_tokens"], 400)
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_prompt_the_balance_cannot_cover_is_refused_with_402(
    client: httpx.Client, user: User, settings: Any
) -> None:
    drain_to(settings, user.user_id, leave=1)
    before = balance(client, user.headers)
    response = chat(client, user, model="fake-echo")
    assert response.status_code == 402
    assert response.json()["error"]["type"] == "insufficient_credits"
    assert balance(client, user.headers) == before


def test_max_tokens_is_clamped_to_what_the_balance_pays(
    client: httpx.Client, user: User, settings: Any, fake_provider: FakeProvider
) -> None:
    response = chat(client, user, model="fake-echo", max_tokens=1)
    assert response.status_code == 200
    prompt_estimate = usage_for(response.headers["x-request-id"])["input_tokens"]
    # Leave enough for the prompt and exactly 3 output tokens.
    leave = PRICE.cost(prompt_estimate, 3)
    drain_to(settings, user.user_id, leave=leave)
    response = chat(client, user, model="fake-echo", max_tokens=500)
    assert response.status_code == 200, response.text
    # Reserved against our own prompt estimate, which is at least the provider's count here.
    assert 1 <= fake_provider.calls[-1].max_tokens <= PRICE.affordable_output(leave, prompt_estimate) < 500
    assert response.json()["credits"] <= leave
    assert balance(client, user.headers)["available"] == leave - response.json()["credits"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "fake-echo", "messages": []}, 422, "invalid_request"),
        ({"model": "no-such-model", "messages": MESSAGES}, 404, "model_not_found"),
        ({"model": "fake-echo", "messages": MESSAGES, "max_tokens": 0}, 422, "invalid_request"),
        (
            {"model": "fake-echo", "messages": MESSAGES, "prediction": {"type": "content", "content": "x"}},
            400,
            "unsupported_parameter",
        ),
        # A tool without its function: a malformed body (more: test_chat_tools_paths.py).
        (
            {"model": "fake-echo", "messages": MESSAGES, "tools": [{"type": "function"}]},
            422,
            "invalid_request",
        ),
        ({"model": "fake-echo", "messages": [{"role": "wizard", "content": "x"}]}, 422, "invalid_request"),
        ({"model": "fake-echo", "messages": MESSAGES, "temperature": 7}, 422, "invalid_request"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.Client, user: User, body: dict[str, Any], status: int, code: str
) -> None:
    before = balance(client, user.headers)
    response = client.post("/v1/chat/completions", json=body, headers=user.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]
    assert response.headers["x-request-id"]
    assert balance(client, user.headers) == before


def test_unauthenticated_chat_is_401(client: httpx.Client) -> None:
    response = client.post("/v1/chat/completions", json={"model": "fake-echo", "messages": MESSAGES})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_oversized_body_is_413(client: httpx.Client, user: User, settings: Settings) -> None:
    # Chat has its own limit (images as data: URLs), larger than other routes'.
    content = "x" * (settings.max_chat_request_bytes + 1000)
    response = chat(client, user, model="fake-echo", messages=[{"role": "user", "content": content}])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_idempotency_key_replays_and_charges_once(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    before = balance(client, user.headers)
    key = {"Idempotency-Key": "order-42"}
    first = chat(client, user, model="fake-echo", max_tokens=4, headers=key)
    calls = len(fake_provider.calls)
    second = chat(client, user, model="fake-echo", max_tokens=4, headers=key)
    assert first.status_code == second.status_code == 200
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json()["choices"] == first.json()["choices"]
    assert second.json()["id"] == first.json()["id"]
    assert len(fake_provider.calls) == calls, "a replay must not call the provider"
    assert balance(client, user.headers)["available"] == before["available"] - first.json()["credits"]
    # Streamed replay of the same stored result.
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers={**user.headers, **key},
        json={"model": "fake-echo", "messages": MESSAGES, "max_tokens": 4},
    ) as r:
        assert r.status_code == 200
    other_body = chat(client, user, model="fake-echo", max_tokens=5, headers=key)
    assert other_body.status_code == 422
    assert other_body.json()["error"]["code"] == "idempotency_key_reused"


def test_idempotency_key_in_flight_is_409(client: httpx.Client, user: User) -> None:
    key = {"Idempotency-Key": "slow-1"}
    started = threading.Event()
    result: dict[str, Any] = {}

    def first() -> None:
        with client.stream(
            "POST",
            "/v1/chat/completions",
            headers={**user.headers, **key},
            json={"model": "fake-slow", "messages": MESSAGES, "stream": True, "max_tokens": 30},
        ) as r:
            for _line in r.iter_lines():
                started.set()
            result["status"] = r.status_code

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(10)
    second = client.post(
        "/v1/chat/completions",
        headers={**user.headers, **key},
        json={"model": "fake-slow", "messages": MESSAGES, "stream": True, "max_tokens": 30},
    )
    thread.join(30)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_in_progress"
    assert result["status"] == 200


def test_failed_call_frees_its_idempotency_key(client: httpx.Client, user: User) -> None:
    key = {"Idempotency-Key": "retry-me"}
    assert chat(client, user, model="fake-500", headers=key).status_code == 503
    assert chat(client, user, model="fake-500", headers=key).status_code == 503
    record_ok = chat(client, user, model="fake-500", headers={"Idempotency-Key": "x" * 300})
    assert record_ok.status_code == 400
    assert record_ok.json()["error"]["code"] == "invalid_idempotency_key"


def test_request_id_is_echoed_and_generated(client: httpx.Client) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32
