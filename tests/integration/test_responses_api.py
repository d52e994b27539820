"""OpenAI's Responses API (issue 13, item 2) with the official openai SDK against the running API: answers
and typed event streams, tool calls streamed in fragments, stored responses continued, read and deleted,
and every charge equal to the usage record; bad input is a 400 with nothing reserved."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import openai
import pytest

from shared.settings import Settings
from tests.fakes.provider import FakeProvider, reply_words
from tests.fakes.tool_streams import WEATHER, openai_whole
from tests.support.helpers import User, balance, grant_credits, rid, usage_for, wait_settled
from tests.support.workspaces import create, join

TOOL = {"type": "function", **WEATHER["function"]}  # Responses' flat function tool


@pytest.fixture
def sdk(api: str, user: User) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api}/v1", api_key=user.access_token, max_retries=0)


def test_a_response_is_charged_what_its_usage_record_says(
    sdk: openai.OpenAI, client: httpx.Client, user: User
) -> None:
    before = balance(client, user.headers)
    raw = sdk.responses.with_raw_response.create(model="fake-echo", input="hello there", max_output_tokens=4)
    response = raw.parse()
    # The fake writes exactly max_output_tokens words and stops for length: OpenAI's "incomplete".
    assert response.status == "incomplete" and response.output_text == "".join(reply_words(4))
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    assert response.id.startswith("resp_") and response.output[0].type == "message"
    assert response.usage is not None and response.usage.output_tokens == 4
    record = usage_for(raw.headers["x-request-id"])
    assert record["api"] == "responses"
    credits = (response.usage.model_extra or {})["credits"]
    assert credits == record["credits"] > 0
    assert wait_settled(client, user.headers)["available"] == before["available"] - credits
    # Stored (the default): read back, then deleted.
    assert sdk.responses.retrieve(response.id).output_text == response.output_text
    items = sdk.responses.input_items.list(response.id)
    assert items.data[0].type == "message"
    sdk.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(response.id)


def test_the_stream_is_openais_typed_events(sdk: openai.OpenAI) -> None:
    events = list(sdk.responses.create(model="fake-echo", input="hi", max_output_tokens=5, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.incomplete"  # stopped by max_output_tokens, as the fake always is
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response
    assert text == final.output_text == "".join(reply_words(5))
    assert final.usage is not None and (final.usage.model_extra or {})["credits"] > 0
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.done"):
        assert kind in kinds


def test_a_tool_call_streams_in_fragments_and_the_round_trip_continues(
    sdk: openai.OpenAI, fake_provider: FakeProvider
) -> None:
    ask = "[[tools:single]] What is the weather in Paris?"
    events = list(sdk.responses.create(model="fake-echo", input=ask, tools=[TOOL], stream=True))  # type: ignore[list-item]
    fragments = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    expected = openai_whole("openai_single")["choices"][0]["message"]["tool_calls"][0]
    assert len(fragments) > 1 and "".join(fragments) == expected["function"]["arguments"]
    final = events[-1].response
    (call,) = [item for item in final.output if item.type == "function_call"]
    assert call.call_id == expected["id"] and call.name == "get_weather"
    # The next turn answers the call, continuing the stored response.
    sent = len(fake_provider.calls_for("fake-echo"))
    answer = sdk.responses.create(
        model="fake-echo",
        previous_response_id=final.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": json.dumps({"c": 18})}],
        tools=[TOOL],  # type: ignore[list-item]
        max_output_tokens=3,
    )
    assert final.status == "completed" and answer.previous_response_id == final.id
    assert answer.output_text == "".join(reply_words(3))
    messages = fake_provider.calls_for("fake-echo")[sent].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == call.call_id and messages[2]["tool_call_id"] == call.call_id


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "fake-echo", "input": "x", "tools": [{"type": "web_search"}]}, "unsupported_tool"),
        ({"model": "fake-echo", "input": [{"type": "computer_call", "id": "c"}]}, "unsupported_item"),
        (
            {
                "model": "fake-echo",
                "input": [{"type": "function_call_output", "call_id": "nope", "output": "1"}],
            },
            "unknown_call_id",
        ),
        (
            {"model": "fake-echo", "input": "x", "previous_response_id": "resp_nobodys"},
            "previous_response_not_found",
        ),
        ({"model": "fake-echo", "input": "x", "background": True}, "unsupported_parameter"),
        ({"model": "fake-echo"}, "invalid_request"),
    ],
)
def test_bad_input_is_a_400_and_nothing_is_reserved(
    client: httpx.Client, user: User, body: dict[str, Any], code: str
) -> None:
    before = balance(client, user.headers)
    response = client.post("/v1/responses", json=body, headers=user.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    assert balance(client, user.headers) == before


def test_someone_elses_response_is_not_found(
    sdk: openai.OpenAI, client: httpx.Client, make_user: Any
) -> None:
    mine = sdk.responses.create(model="fake-echo", input="secret plans", max_output_tokens=2)
    other = make_user()
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/input_items")):
        answer = client.request(method, f"/v1/responses/{mine.id}{path}", headers=other.headers)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "response_not_found"
    before = balance(client, other.headers)
    taken = client.post(
        "/v1/responses",
        json={"model": "fake-echo", "input": "go on", "previous_response_id": mine.id},
        headers=other.headers,
    )
    assert taken.status_code == 400 and taken.json()["error"]["code"] == "previous_response_not_found"
    assert balance(client, other.headers) == before
    assert sdk.responses.retrieve(mine.id).id == mine.id  # still there for its owner


def test_oversize_input_is_a_413(client: httpx.Client, user: User) -> None:
    huge = {"model": "fake-echo", "input": "x" * 40_000_000}
    assert client.post("/v1/responses", json=huge, headers=user.headers).status_code == 413


def test_the_three_doors_send_the_provider_the_same_request(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    """One conversation with a tool call and its result, through chat completions, Messages and Responses."""
    ask = "weather?"
    call = {"id": "call_1", "name": "get_weather", "arguments": '{"location":"Paris"}'}
    chat = {
        "model": "fake-echo",
        "max_tokens": 3,
        "tools": [WEATHER],
        "messages": [
            {"role": "user", "content": ask},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call["id"], "content": "18C"},
        ],
    }
    messages = {
        "model": "fake-echo",
        "max_tokens": 3,
        "tools": [
            {
                "name": "get_weather",
                "description": WEATHER["function"]["description"],
                "input_schema": WEATHER["function"]["parameters"],
            }
        ],
        "messages": [
            {"role": "user", "content": ask},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": call["name"],
                        "input": {"location": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "18C"}],
            },
        ],
    }
    responses = {
        "model": "fake-echo",
        "max_output_tokens": 3,
        "store": False,
        "tools": [TOOL],
        "input": [
            {"role": "user", "content": ask},
            {
                "type": "function_call",
                "call_id": call["id"],
                "name": call["name"],
                "arguments": call["arguments"],
            },
            {"type": "function_call_output", "call_id": call["id"], "output": "18C"},
        ],
    }
    sent = []
    for path, body in (
        ("/v1/chat/completions", chat),
        ("/v1/messages", messages),
        ("/v1/responses", responses),
    ):
        before = len(fake_provider.calls_for("fake-echo"))
        answer = client.post(path, json=body, headers=user.headers)
        assert answer.status_code == 200, (path, answer.text)
        request = fake_provider.calls_for("fake-echo")[before].body
        sent.append(
            (
                request["messages"],
                request["tools"],
                request.get("max_tokens") or request.get("max_completion_tokens"),
            )
        )
    assert sent[0] == sent[1] == sent[2], json.dumps(sent, indent=1)[:2000]


def test_a_flood_is_a_429(client: httpx.Client) -> None:
    from tests.support.helpers import register

    _, headers = register(client)
    body = {"model": "fake-echo", "input": "hi", "max_output_tokens": 1, "store": False}
    codes = [client.post("/v1/responses", json=body, headers=headers).status_code for _ in range(40)]
    assert codes[0] == 200 and 429 in codes


def test_an_idempotency_key_replays_and_charges_once(api: str, user: User, client: httpx.Client) -> None:
    key = {"Idempotency-Key": f"resp-{uuid.uuid4().hex}"}
    before = balance(client, user.headers)
    sdk = openai.OpenAI(base_url=f"{api}/v1", api_key=user.access_token, max_retries=0, default_headers=key)
    first = sdk.responses.with_raw_response.create(model="fake-echo", input="hello", max_output_tokens=3)
    again = sdk.responses.with_raw_response.create(model="fake-echo", input="hello", max_output_tokens=3)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.parse().id == first.parse().id and again.parse().output_text == first.parse().output_text
    charged = int(first.headers["x-credits-charged"])
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_a_workspace_member_spends_the_workspace_wallet_and_keeps_the_response_there(
    api: str, client: httpx.Client, make_user: Any, settings: Settings
) -> None:
    from shared.ledger.wallet_ids import workspace_wallet_base

    owner, member = make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    grant_credits(settings, workspace_wallet_base(ws), 500_000, shards=settings.workspace_wallet_shards)
    own_before = balance(client, member.headers)
    in_ws = {"X-Workspace-ID": ws}
    sdk = openai.OpenAI(
        base_url=f"{api}/v1", api_key=member.access_token, max_retries=0, default_headers=in_ws
    )
    raw = sdk.responses.with_raw_response.create(model="fake-echo", input="hi", max_output_tokens=3)
    record = usage_for(raw.headers["x-request-id"])
    assert record["workspace_id"] == ws and record["wallet_id"].startswith(f"ws-{ws}~")
    assert record["api"] == "responses" and record["credits"] > 0
    assert balance(client, member.headers) == own_before
    stored = raw.parse().id
    assert client.get(f"/v1/responses/{stored}", headers={**member.headers, **in_ws}).status_code == 200
    assert client.get(f"/v1/responses/{stored}", headers=member.headers).status_code == 404  # another scope


def test_a_client_leaving_mid_stream_pays_for_what_was_produced(
    user: User, client: httpx.Client, fake_provider: FakeProvider
) -> None:
    before = balance(client, user.headers)
    headers = {**user.headers, **rid()}
    calls_before = len(fake_provider.calls_for("fake-slow"))
    body = {"model": "fake-slow", "max_output_tokens": 400, "stream": True, "input": "hi", "store": False}
    seen = 0
    with client.stream("POST", "/v1/responses", json=body, headers=headers) as response:
        for line in response.iter_lines():
            seen += "response.output_text.delta" in line and line.startswith("data:")
            if seen == 5:
                break
    record = usage_for(headers["X-Request-ID"])
    call = fake_provider.calls_for("fake-slow")[calls_before]
    deadline = time.monotonic() + 5
    while not call.disconnected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert call.disconnected and call.chunks_sent < 100
    assert record["outcome"] == "cancelled" and record["api"] == "responses"
    assert 5 <= record["output_tokens"] < 400
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_an_image_reaches_the_provider(sdk: openai.OpenAI, fake_provider: FakeProvider) -> None:
    from tests.integration.test_chat_inputs import data_url

    sent = len(fake_provider.calls_for("fake-echo"))
    content = [
        {"type": "input_text", "text": "What is it?"},
        {"type": "input_image", "image_url": data_url()},
    ]
    response = sdk.responses.create(
        model="fake-echo",
        input=[{"role": "user", "content": content}],
        max_output_tokens=3,  # type: ignore[list-item]
    )
    assert response.usage is not None and response.usage.input_tokens > 0
    parts = fake_provider.calls_for("fake-echo")[sent].body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
