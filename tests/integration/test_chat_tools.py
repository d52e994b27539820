"""Tool calling on /v1/chat/completions: the client sees exactly the calls the provider sent, in OpenAI's
shape whatever the provider (recorded OpenAI, Anthropic and Gemini streams, tests/fakes/tool_streams.py),
streamed as they arrive; charges follow the provider's usage; bad input changes nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from shared.catalog.catalog import ModelSpec
from shared.gateway.calls import count_prompt, count_text
from shared.settings import Settings
from tests.fakes.provider import INPUT_PRICE, OUTPUT_PRICE, FakeProvider
from tests.fakes.tool_streams import (
    anthropic_whole,
    events,
    gemini_whole,
    openai_whole,
    recorded,
)
from tests.support.helpers import User, balance, drain_to, usage_for, wait_settled
from tests.support.tool_calls import (
    PRICE,
    TOOLS,
    ask,
    assemble,
    content_of,
    finish_of,
    no_usage_record,
    post,
    stream,
    tool_deltas,
)

# Streams: exactly what the provider sent, as it arrives.


@pytest.mark.parametrize("script", ["single", "parallel"])
def test_openai_stream_reaches_the_client_fragment_for_fragment(
    client: httpx.Client, user: User, script: str
) -> None:
    before = balance(client, user.headers)
    response, got = stream(client, user, model="fake-echo", messages=ask(script))
    assert response.status_code == 200
    sent = [
        e["choices"][0]["delta"]["tool_calls"]
        for e in events(recorded(f"openai_{script}"))
        if e["choices"] and e["choices"][0]["delta"].get("tool_calls")
    ]
    assert tool_deltas(got) == sent  # index, id, type, name, every argument fragment, in order
    firsts = [piece for chunk in tool_deltas(got) for piece in chunk if "id" in piece]
    assert [p["index"] for p in firsts] == list(range(len(firsts)))
    assert all("name" in p["function"] and p["type"] == "function" for p in firsts)
    assert finish_of(got) == "tool_calls"
    assert got[-1] == "[DONE]"
    usage = next(e for e in events(recorded(f"openai_{script}")) if e.get("usage"))["usage"]
    record = usage_for(response.headers["x-request-id"])
    assert (record["input_tokens"], record["output_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert record["usage_reported"] and record["outcome"] == "ok"
    charged = PRICE.cost(usage["prompt_tokens"], usage["completion_tokens"])
    assert record["credits"] == charged
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_tool_call_fragments_are_forwarded_as_they_arrive(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    arrivals = []
    body = {"model": "fake-echo", "stream": True, "tools": TOOLS, "messages": ask("parallel")}
    fake_provider.shapes.delay = 0.05
    try:
        with client.stream("POST", "/v1/chat/completions", json=body, headers=user.headers) as r:
            for line in r.iter_lines():
                if '"tool_calls":[' in line:
                    arrivals.append(time.monotonic())
    finally:
        fake_provider.shapes.delay = 0.01
    assert len(arrivals) == 7  # 2 calls' starts and 5 argument fragments
    # The fake sends one event every 50 ms: buffering to the end would deliver them together.
    assert arrivals[-1] - arrivals[0] > 0.15


@pytest.mark.parametrize("script", ["single", "parallel"])
def test_anthropic_tool_use_stream_reaches_the_client_in_openai_shape(
    client: httpx.Client, user: User, script: str
) -> None:
    response, got = stream(client, user, model="fake-claude", messages=ask(script))
    assert response.status_code == 200
    assert response.headers["x-provider"] == "fake_anthropic"
    recorded_events = events(recorded(f"anthropic_{script}"))
    expected: list[list[dict[str, Any]]] = []
    text = ""
    calls = -1
    for event in recorded_events:
        if event["type"] == "content_block_start" and event["content_block"]["type"] == "tool_use":
            calls += 1
            block = event["content_block"]
            first = {
                "index": calls,
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": ""},
            }
            expected.append([first])
        elif event["type"] == "content_block_delta" and event["delta"]["type"] == "input_json_delta":
            expected.append([{"index": calls, "function": {"arguments": event["delta"]["partial_json"]}}])
        elif event["type"] == "content_block_delta":
            text += event["delta"]["text"]
    assert tool_deltas(got) == expected
    assert content_of(got) == text
    assert finish_of(got) == "tool_calls"
    whole = anthropic_whole(f"anthropic_{script}")
    record = usage_for(response.headers["x-request-id"])
    assert (record["input_tokens"], record["output_tokens"]) == (
        whole["usage"]["input_tokens"],
        whole["usage"]["output_tokens"],
    )
    assert record["credits"] == PRICE.cost(whole["usage"]["input_tokens"], whole["usage"]["output_tokens"])


@pytest.mark.parametrize("script", ["single", "parallel"])
def test_gemini_function_calls_reach_the_client_in_openai_shape(
    client: httpx.Client, user: User, script: str
) -> None:
    response, got = stream(client, user, model="fake-gemini", messages=ask(script))
    assert response.status_code == 200
    parts = [p for c in events(recorded(f"gemini_{script}")) for p in c["candidates"][0]["content"]["parts"]]
    wanted = [p["functionCall"] for p in parts if "functionCall" in p]
    calls = assemble(tool_deltas(got))
    assert [c["function"]["name"] for c in calls] == [w["name"] for w in wanted]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [w["args"] for w in wanted]
    for call, want in zip(calls, wanted, strict=True):
        assert call["type"] == "function" and call["id"]
        if "id" in want:  # Gemini's own call id is kept, so the result can be matched to it
            assert call["id"] == want["id"]
    assert content_of(got) == "".join(p.get("text", "") for p in parts)
    assert finish_of(got) == "tool_calls"
    usage = gemini_whole(f"gemini_{script}")["usageMetadata"]
    record = usage_for(response.headers["x-request-id"])
    assert (record["input_tokens"], record["output_tokens"]) == (
        usage["promptTokenCount"],
        usage["candidatesTokenCount"],
    )


# Whole answers.


@pytest.mark.parametrize(
    ("model", "script"),
    [
        ("fake-echo", "single"),
        ("fake-echo", "parallel"),
        ("fake-claude", "single"),
        ("fake-claude", "parallel"),
        ("fake-gemini", "single"),
        ("fake-gemini", "parallel"),
    ],
)
def test_whole_answer_carries_the_tool_calls(
    client: httpx.Client, user: User, model: str, script: str
) -> None:
    before = balance(client, user.headers)
    response = post(client, user, model=model, messages=ask(script))
    assert response.status_code == 200, response.text
    body = response.json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    calls = message["tool_calls"]
    if model == "fake-echo":
        assert calls == openai_whole(f"openai_{script}")["choices"][0]["message"]["tool_calls"]
        assert message["content"] is None  # only calls: content null, as OpenAI sends it
    elif model == "fake-claude":
        blocks = [b for b in anthropic_whole(f"anthropic_{script}")["content"] if b["type"] == "tool_use"]
        assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
            (b["id"], b["name"], b["input"]) for b in blocks
        ]
    else:
        parts = gemini_whole(f"gemini_{script}")["candidates"][0]["content"]["parts"]
        wanted = [p["functionCall"] for p in parts if "functionCall" in p]
        assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
            (w["name"], w["args"]) for w in wanted
        ]
    assert all(c["type"] == "function" and c["id"] for c in calls)
    usage = body["usage"]
    charged = PRICE.cost(usage["prompt_tokens"], usage["completion_tokens"])
    assert body["credits"] == charged == int(response.headers["x-credits-charged"])
    record = usage_for(response.headers["x-request-id"])
    assert record["credits"] == charged and record["model"] == model
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_the_next_turn_sends_the_calls_and_results_back(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    first = post(client, user, model="fake-claude").json()["choices"][0]["message"]
    call = first["tool_calls"][0]
    history = [
        *ask("single"),
        first,
        {"role": "tool", "tool_call_id": call["id"], "content": '{"temperature_c": 21, "sky": "clear"}'},
    ]
    response = post(client, user, model="fake-claude", messages=history)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "The weather in Paris is sunny."
    assert response.json()["choices"][0]["finish_reason"] == "stop"
    sent = fake_provider.shapes.requests[-1][1]["messages"]
    # Anthropic's shape: the call as a tool_use block, the result as a tool_result block naming it.
    assert any(b.get("type") == "tool_use" and b.get("id") == call["id"] for b in sent[1]["content"])
    assert sent[2]["role"] == "user"
    result = next(b for b in sent[2]["content"] if b.get("type") == "tool_result")
    assert result["tool_use_id"] == call["id"]


# Money.


def test_the_hold_counts_the_tool_definitions(client: httpx.Client, user: User, settings: Settings) -> None:
    spec = ModelSpec("fake-echo", "fake", "openai/fake-echo", INPUT_PRICE, OUTPUT_PRICE, 8192, 2048)
    big = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": " ".join(["describe the thing carefully"] * 270),
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    messages = [{"role": "user", "content": "hello there"}]
    without = spec.cost(count_prompt(spec, messages), 1)
    with_tools = spec.cost(count_prompt(spec, messages, [big]), 1)
    assert with_tools > without + 50
    drain_to(settings, user.user_id, without + 10)
    refused = post(client, user, model="fake-echo", messages=messages, tools=[big], max_tokens=1)
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["code"] == "insufficient_credits"
    assert no_usage_record(refused.headers["x-request-id"])
    plain = client.post(
        "/v1/chat/completions",
        json={"model": "fake-echo", "messages": messages, "max_tokens": 1},
        headers=user.headers,
    )
    assert plain.status_code == 200, plain.text


def test_a_cut_stream_pays_for_the_call_fragments_that_came(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    spec = ModelSpec("fake-echo", "fake", "openai/fake-echo", INPUT_PRICE, OUTPUT_PRICE, 8192, 2048)
    messages = [{"role": "user", "content": "[[tools:single]] [[fault:cut after=4]] weather?"}]
    before = balance(client, user.headers)
    response, got = stream(client, user, model="fake-echo", messages=messages, max_tokens=100)
    assert response.status_code == 200
    assert any(isinstance(e, dict) and "error" in e for e in got)
    calls = assemble(tool_deltas(got))
    assert calls[0]["function"]["name"] == "get_weather"
    # The 4 events sent before the cut: the call's start, then 3 argument fragments.
    assert calls[0]["function"]["arguments"] == '{"location":"'
    record = usage_for(response.headers["x-request-id"])
    assert record["outcome"] == "partial" and not record["usage_reported"]
    written = count_text(spec, "get_weather" + '{"location":"')
    assert record["output_tokens"] == written > 0
    assert record["input_tokens"] == count_prompt(spec, messages, TOOLS)
    assert record["credits"] == spec.cost(record["input_tokens"], written)
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]
