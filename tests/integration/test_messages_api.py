"""/v1/messages (Anthropic's Messages API) with the official `anthropic` SDK against the running API: the
same chat service as /v1/chat/completions behind it (one ledger, one router, one usage record naming the
door), Anthropic's message and event shapes out, Anthropic's errors, nothing reserved on a 4xx."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import anthropic
import httpx
import pytest

from shared.catalog.catalog import ModelSpec
from shared.settings import Settings
from tests.fakes.provider import INPUT_PRICE, OUTPUT_PRICE, FakeProvider, Fault
from tests.fakes.tool_streams import TEXT_REPLY, TIME, WEATHER, anthropic_whole, openai_whole
from tests.support.helpers import User, balance, drain_to, grant_credits, rid, usage_for, wait_settled
from tests.support.tool_calls import no_usage_record
from tests.support.workspaces import create, join

PRICE = ModelSpec("fake", "fake", "openai/fake", INPUT_PRICE, OUTPUT_PRICE, 8192, 2048)
TOOLS: Any = [
    {"name": t["function"]["name"], "description": t["function"]["description"],
     "input_schema": t["function"]["parameters"]}
    for t in (WEATHER, TIME)
]  # fmt: skip


def sdk(api: str, credential: str, **headers: str) -> anthropic.Anthropic:
    """The SDK as Claude Code's users point it at us: `api_key` goes out as `x-api-key`."""
    return anthropic.Anthropic(base_url=api, api_key=credential, max_retries=0, default_headers=headers)


def ask(script: str) -> Any:
    return [{"role": "user", "content": f"[[tools:{script}]] What is the weather and time in Paris?"}]


def charged_as_priced(request_id: str, credits: int) -> dict[str, Any]:
    """The usage record: the door named, the credits charged == its usage priced by the catalog."""
    record = usage_for(request_id)
    assert record["api"] == "messages"
    assert record["credits"] == credits == PRICE.cost(record["input_tokens"], record["output_tokens"])
    return record


def test_a_message_costs_its_priced_usage_and_moves_the_ledger_by_it(api: str, user: User) -> None:
    client = httpx.Client(base_url=api, timeout=30)
    before = balance(client, user.headers)
    request = rid()
    raw = sdk(api, user.access_token, **request).messages.with_raw_response.create(
        model="fake-echo", max_tokens=5, messages=[{"role": "user", "content": "hello there"}]
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message.stop_reason == "max_tokens" and message.model == "fake-echo"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.usage.output_tokens == 5
    credits = int(raw.headers["x-credits-charged"])
    assert raw.headers["x-model"] == "fake-echo" and raw.headers["x-provider"]
    record = charged_as_priced(request["X-Request-ID"], credits)
    assert record["input_tokens"] == message.usage.input_tokens
    assert wait_settled(client, user.headers)["available"] == before["available"] - credits


@pytest.mark.parametrize("model", ["fake-echo", "fake-claude"])
def test_a_stream_gives_the_text_and_the_final_message(api: str, user: User, model: str) -> None:
    request = rid()
    messages: Any = [{"role": "user", "content": "Say something about Paris."}]
    # max_tokens leaves the hold room for the input tokens the Anthropic fake reports (a hold caps a charge).
    with sdk(api, user.access_token, **request).messages.stream(
        model=model, max_tokens=50, messages=messages
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].type == "text" and final.content[0].text == text
    if model == "fake-claude":
        assert text == "".join(TEXT_REPLY)
    assert final.stop_reason in ("end_turn", "max_tokens")
    record = usage_for(request["X-Request-ID"])
    assert record["model"] == model and record["api"] == "messages"
    assert final.usage.output_tokens == record["output_tokens"] > 0
    assert record["credits"] == PRICE.cost(record["input_tokens"], record["output_tokens"])


def raw_events(api: str, user: User, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of a streamed /v1/messages answer, as sent."""
    out: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream(
        "POST", f"{api}/v1/messages", json={**body, "stream": True}, headers=user.headers, timeout=30
    ) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


@pytest.mark.parametrize("model", ["fake-echo", "fake-claude"])
def test_a_tool_call_streams_its_input_json_in_order(api: str, user: User, model: str) -> None:
    # max_tokens leaves the hold room for the input tokens the Anthropic fake reports (a hold caps a charge).
    body = {"model": model, "max_tokens": 1000, "tools": TOOLS, "messages": ask("single")}
    events = raw_events(api, user, body)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    tool = next(b for b in starts if b["type"] == "tool_use")
    fragments = [
        d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"
        and d["delta"]["type"] == "input_json_delta"
    ]  # fmt: skip
    assert len(fragments) > 1  # streamed in pieces, not one burst at the end
    if model == "fake-echo":
        call = openai_whole("openai_single")["choices"][0]["message"]["tool_calls"][0]
        assert (tool["id"], tool["name"]) == (call["id"], call["function"]["name"])
        assert "".join(fragments) == call["function"]["arguments"]
    else:
        block = next(b for b in anthropic_whole("anthropic_single")["content"] if b["type"] == "tool_use")
        assert (tool["id"], tool["name"]) == (block["id"], block["name"])
        assert json.loads("".join(fragments)) == block["input"]
    tail = next(d for n, d in events if n == "message_delta")
    assert tail["delta"]["stop_reason"] == "tool_use"
    assert tail["usage"]["credits"] == PRICE.cost(
        tail["usage"]["input_tokens"], tail["usage"]["output_tokens"]
    )


@pytest.mark.parametrize("model", ["fake-echo", "fake-claude"])
def test_the_tool_use_round_trip(api: str, user: User, model: str) -> None:
    client = sdk(api, user.access_token)
    messages: Any = ask("parallel")
    first = client.messages.create(model=model, max_tokens=200, tools=TOOLS, messages=messages)
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["get_weather", "get_time"]
    assert all(isinstance(u.input, dict) and u.input for u in uses)
    messages.append({"role": "assistant", "content": first.content})
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": u.id, "content": '{"ok": true}'} for u in uses
            ],
        }
    )
    final = client.messages.create(model=model, max_tokens=6, tools=TOOLS, messages=messages)
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert final.content[0].type == "text" and final.content[0].text
    if model == "fake-claude":
        assert final.content[0].text == "".join(TEXT_REPLY)


def test_a_fallback_serves_through_messages(api: str, user: User, fake_provider: FakeProvider) -> None:
    fake_provider.always("tools-main", Fault.http(500))
    try:
        request = rid()
        raw = sdk(api, user.access_token, **request).messages.with_raw_response.create(
            model="tools-main", max_tokens=200, tools=TOOLS, messages=ask("single")
        )
        message = raw.parse()
        assert raw.headers["x-model"] == "tools-backup" and message.model == "tools-backup"
        assert [b.type for b in message.content] == ["tool_use"]
        record = charged_as_priced(request["X-Request-ID"], int(raw.headers["x-credits-charged"]))
        assert record["requested_model"] == "tools-main" and record["model"] == "tools-backup"
    finally:
        fake_provider.reset()


def test_every_provider_failing_is_529_overloaded(
    api: str, user: User, fake_provider: FakeProvider, client: httpx.Client
) -> None:
    before = balance(client, user.headers)
    with pytest.raises(anthropic.InternalServerError) as raised:
        sdk(api, user.access_token).messages.create(
            model="fake-500", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.status_code == 529
    assert raised.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert wait_settled(client, user.headers) == before


def test_an_api_key_goes_as_x_api_key_and_a_token_as_bearer(
    api: str, user: User, client: httpx.Client
) -> None:
    created = client.post("/v1/api-keys", json={"name": "claude"}, headers=user.headers)
    assert created.status_code in (200, 201), created.text
    key = created.json()["key"]
    hello: Any = [{"role": "user", "content": "hi"}]
    by_key = sdk(api, key).messages.create(model="fake-echo", max_tokens=2, messages=hello)
    assert by_key.usage.output_tokens == 2
    by_token = anthropic.Anthropic(base_url=api, auth_token=user.access_token, max_retries=0)
    assert by_token.messages.create(model="fake-echo", max_tokens=2, messages=hello).usage.output_tokens == 2
    response = client.post(
        "/v1/messages",
        json={"model": "fake-echo", "max_tokens": 2, "messages": hello},
        headers={"anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.AuthenticationError):
        sdk(api, "sk-" + "x" * 43).messages.create(model="fake-echo", max_tokens=2, messages=hello)


# Bad input: Anthropic's error, nothing reserved, nothing recorded.


def refused(api: str, user: User, client: httpx.Client, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    before = balance(client, user.headers)
    request = rid()
    response = client.post("/v1/messages", json=body, headers={**user.headers, **request})
    assert no_usage_record(request["X-Request-ID"])
    assert balance(client, user.headers) == before
    payload: dict[str, Any] = response.json()
    assert payload["type"] == "error" and payload["error"]["message"]
    return response.status_code, payload["error"]


def test_bad_requests_are_anthropic_errors_and_change_nothing(
    api: str, user: User, client: httpx.Client
) -> None:
    hello = [{"role": "user", "content": "hi"}]
    status, error = refused(api, user, client, {"model": "fake-echo", "messages": hello})
    assert (status, error["type"]) == (400, "invalid_request_error") and "max_tokens" in error["message"]
    result = {"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}
    stray = [*hello, {"role": "assistant", "content": "ok"}, {"role": "user", "content": [result]}]
    status, error = refused(api, user, client, {"model": "fake-echo", "max_tokens": 5, "messages": stray})
    assert (status, error["type"]) == (400, "invalid_request_error") and "toolu_x" in error["message"]
    status, error = refused(api, user, client, {"model": "no-such-model", "max_tokens": 5, "messages": hello})
    assert (status, error["type"]) == (404, "not_found_error")
    server_tool = [{"type": "web_search_20250305", "name": "web_search"}]
    body = {"model": "fake-echo", "max_tokens": 5, "messages": hello, "tools": server_tool}
    status, error = refused(api, user, client, body)
    assert status == 400 and "web_search" in error["message"]


def test_typed_sdk_errors(api: str, user: User, settings: Settings) -> None:
    client = sdk(api, user.access_token)
    hello: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="no-such-model", max_tokens=5, messages=hello)
    drain_to(settings, user.user_id, leave=0)
    with pytest.raises(anthropic.APIStatusError) as raised:
        client.messages.create(model="fake-echo", max_tokens=5, messages=hello)
    assert raised.value.status_code == 402
    assert raised.value.body["error"]["type"] == "billing_error"  # type: ignore[index]


def test_claude_codes_extras_are_accepted(api: str, user: User) -> None:
    """Beta headers, `thinking`, metadata, a system prompt in blocks with cache_control: served."""
    client = sdk(api, user.access_token, **{"anthropic-beta": "claude-code-20250219,oauth-2025-04-20"})
    message = client.messages.create(
        model="fake-echo",
        max_tokens=3,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "hi"}],
        metadata={"user_id": "someone"},
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    assert message.usage.output_tokens == 3


def test_an_oversize_body_is_anthropics_413(
    api: str, user: User, client: httpx.Client, settings: Settings
) -> None:
    size = max(settings.max_chat_request_bytes, settings.max_request_bytes) + 10
    response = client.post(
        "/v1/messages",
        content=b'{"model":"fake-echo","max_tokens":5,"messages":[{"role":"user","content":"' + b"a" * size,
        headers={**user.headers, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == {
        "type": "error",
        "error": {"type": "request_too_large", "message": response.json()["error"]["message"]},
    }


# Idempotency, workspaces, count_tokens, one provider request whichever door.


def test_an_idempotency_key_replays_and_charges_once(api: str, user: User, client: httpx.Client) -> None:
    key = {"Idempotency-Key": f"msg-{uuid.uuid4().hex}"}
    before = balance(client, user.headers)
    hello: Any = [{"role": "user", "content": "hello there"}]
    first = sdk(api, user.access_token, **key).messages.with_raw_response.create(
        model="fake-echo", max_tokens=4, messages=hello
    )
    again = sdk(api, user.access_token, **key).messages.with_raw_response.create(
        model="fake-echo", max_tokens=4, messages=hello
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.parse().content == first.parse().content
    assert again.parse().id == first.parse().id
    charged = int(first.headers["x-credits-charged"])
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_a_workspace_member_spends_the_workspace_wallet(
    api: str, client: httpx.Client, make_user: Any, settings: Settings
) -> None:
    from shared.ledger.wallet_ids import workspace_wallet_base

    owner, member = make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    grant_credits(settings, workspace_wallet_base(ws), 500_000, shards=settings.workspace_wallet_shards)
    own_before = balance(client, member.headers)
    request = rid()
    message = sdk(api, member.access_token, **request, **{"X-Workspace-ID": ws}).messages.create(
        model="fake-echo", max_tokens=3, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.usage.output_tokens == 3
    record = usage_for(request["X-Request-ID"])
    assert record["workspace_id"] == ws and record["wallet_id"].startswith(f"ws-{ws}~")
    assert record["api"] == "messages" and record["credits"] > 0
    assert balance(client, member.headers) == own_before


def test_count_tokens_counts_as_admission_does_and_charges_nothing(
    api: str, user: User, client: httpx.Client
) -> None:
    from shared.gateway.calls import count_prompt

    before = balance(client, user.headers)
    counted = sdk(api, user.access_token).messages.count_tokens(
        model="fake-echo", messages=ask("single"), tools=TOOLS, system="Be brief."
    )
    spec = ModelSpec("fake-echo", "fake", "openai/fake-echo", INPUT_PRICE, OUTPUT_PRICE, 8192, 2048)
    wire = [{"role": "system", "content": "Be brief."}, *ask("single")]
    assert counted.input_tokens == count_prompt(spec, wire, [WEATHER, TIME]) > 0
    without_tools = sdk(api, user.access_token).messages.count_tokens(
        model="fake-echo", messages=ask("single"), system="Be brief."
    )
    assert without_tools.input_tokens < counted.input_tokens
    assert balance(client, user.headers) == before
    with pytest.raises(anthropic.NotFoundError):
        sdk(api, user.access_token).messages.count_tokens(model="no-such-model", messages=ask("single"))


def test_both_doors_send_the_provider_the_same_request(
    api: str, user: User, client: httpx.Client, fake_provider: FakeProvider
) -> None:
    """One conversation with a tool round trip, through /v1/chat/completions and /v1/messages."""
    call = openai_whole("openai_single")["choices"][0]["message"]["tool_calls"][0]
    marker = uuid.uuid4().hex
    question = f"{marker} What is the weather in Paris?"
    chat = {
        "model": "fake-echo",
        "max_tokens": 7,
        "temperature": 0.5,
        "stop": ["END"],
        "tools": [WEATHER, TIME],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
        ],
    }
    arguments = json.loads(call["function"]["arguments"])
    messages = {
        "model": "fake-echo",
        "max_tokens": 7,
        "temperature": 0.5,
        "stop_sequences": ["END"],
        "tools": TOOLS,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": arguments}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": call["id"], "content": "sunny"}
            ]},
        ],
    }  # fmt: skip
    assert client.post("/v1/chat/completions", json=chat, headers=user.headers).status_code == 200
    assert client.post("/v1/messages", json=messages, headers=user.headers).status_code == 200
    time.sleep(0.1)
    bodies = [c.body for c in fake_provider.calls_for("fake-echo") if marker in json.dumps(c.body)]
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]


def test_a_provider_cut_mid_stream_is_an_error_event_and_pays_what_came(
    api: str, user: User, client: httpx.Client
) -> None:
    before = balance(client, user.headers)
    request = rid()
    body = {"model": "fake-cut", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    events: list[tuple[str, dict[str, Any]]] = []
    headers = {**user.headers, **request}
    with httpx.stream(
        "POST", f"{api}/v1/messages", json={**body, "stream": True}, headers=headers, timeout=30
    ) as response:
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-1] == "error" and "message_stop" not in names
    assert events[-1][1]["type"] == "error" and events[-1][1]["error"]["message"]
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    record = usage_for(request["X-Request-ID"])
    assert text and record["outcome"] == "partial" and record["api"] == "messages"
    assert record["credits"] > 0
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_a_client_leaving_mid_stream_pays_for_what_was_produced(
    api: str, user: User, client: httpx.Client, fake_provider: FakeProvider
) -> None:
    before = balance(client, user.headers)
    headers = {**user.headers, **rid()}
    calls_before = len(fake_provider.calls_for("fake-slow"))
    body = {
        "model": "fake-slow",
        "max_tokens": 400,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    seen = 0
    with client.stream("POST", "/v1/messages", json=body, headers=headers) as response:
        for line in response.iter_lines():
            seen += '"text_delta"' in line
            if seen == 5:
                break
    record = usage_for(headers["X-Request-ID"])
    call = fake_provider.calls_for("fake-slow")[calls_before]
    deadline = time.monotonic() + 5
    while not call.disconnected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert call.disconnected and call.chunks_sent < 100
    assert record["outcome"] == "cancelled" and record["api"] == "messages"
    assert 5 <= record["output_tokens"] < 400
    assert record["credits"] == PRICE.cost(record["input_tokens"], record["output_tokens"])
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_a_streamed_idempotent_retry_replays_the_same_message(
    api: str, user: User, client: httpx.Client
) -> None:
    key = {"Idempotency-Key": f"msg-stream-{uuid.uuid4().hex}"}
    before = balance(client, user.headers)
    finals, requests = [], [rid(), rid()]
    for request in requests:
        with sdk(api, user.access_token, **key, **request).messages.stream(
            model="fake-echo", max_tokens=200, tools=TOOLS, messages=ask("single")
        ) as stream:
            finals.append(stream.get_final_message())
    first, again = finals
    assert [b.type for b in again.content] == [b.type for b in first.content] == ["tool_use"]
    assert again.content[0].input == first.content[0].input and again.id == first.id  # type: ignore[union-attr]
    assert again.stop_reason == "tool_use" and again.usage.output_tokens == first.usage.output_tokens
    record = usage_for(requests[0]["X-Request-ID"])
    assert no_usage_record(requests[1]["X-Request-ID"])  # the replay wrote nothing and charged nothing
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]
