"""Tool calling on /v1/chat/completions along every path: fallback chains narrowed to models with tools,
idempotent replays, the cache bypass, workspace wallets, legacy `functions`, and bad input refused before
anything is reserved."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.fakes.provider import FakeProvider
from tests.fakes.tool_streams import (
    WEATHER,
    openai_whole,
)
from tests.support.helpers import User, balance, rid, usage_for, wait_settled
from tests.support.tool_calls import (
    PRICE,
    TOOLS,
    ask,
    assemble,
    finish_of,
    no_usage_record,
    post,
    stream,
    tool_deltas,
)

# Fallback, idempotency, cache, workspace.


def test_the_fallback_chain_skips_models_without_tools(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    fake_provider.always("tools-main", fake_provider_fault_500())
    try:
        served = post(client, user, model="tools-main")
        assert served.status_code == 200, served.text
        assert served.headers["x-model"] == "tools-backup"
        assert served.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
        assert fake_provider.calls_for("tools-nocap") == []
        response, got = stream(client, user, model="tools-main")
        assert response.headers["x-model"] == "tools-backup"
        assert assemble(tool_deltas(got))[0]["id"] == "call_DdmO9pD3xa9XTPNJ32zg2hcA"
        assert fake_provider.calls_for("tools-nocap") == []
        record = usage_for(response.headers["x-request-id"])
        assert record["model"] == "tools-backup" and record["requested_model"] == "tools-main"
        usage = openai_whole("openai_single")["usage"]  # the failed attempt cost nothing
        assert record["credits"] == PRICE.cost(usage["prompt_tokens"], usage["completion_tokens"])
        # Without tools the first fallback serves: the chain was narrowed by what the request needs.
        plain = client.post(
            "/v1/chat/completions",
            json={"model": "tools-main", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
            headers=user.headers,
        )
        assert plain.status_code == 200 and plain.headers["x-model"] == "tools-nocap"
    finally:
        fake_provider.reset()


def fake_provider_fault_500() -> Any:
    from tests.fakes.provider import Fault

    return Fault.http(500)


@pytest.mark.parametrize("streamed", [False, True])
def test_an_idempotent_retry_replays_the_calls_and_charges_once(
    client: httpx.Client, user: User, fake_provider: FakeProvider, streamed: bool
) -> None:
    key = {"Idempotency-Key": f"tools-{streamed}-{time.time_ns()}"}
    before = balance(client, user.headers)
    sent_before = len(fake_provider.calls_for("fake-echo"))
    body = {"model": "fake-echo", "messages": ask("parallel")}
    if streamed:
        first_response, first = stream(client, user, headers=key, **body)
        again_response, again = stream(client, user, headers=key, **body)
        assert again_response.headers["idempotent-replayed"] == "true"
        assert assemble(tool_deltas(again)) == assemble(tool_deltas(first))
        assert finish_of(again) == "tool_calls"
        calls = assemble(tool_deltas(first))
    else:
        first_response = post(client, user, headers=key, **body)
        again_response = post(client, user, headers=key, **body)
        assert again_response.headers["idempotent-replayed"] == "true"
        assert again_response.json()["choices"] == first_response.json()["choices"]
        calls = first_response.json()["choices"][0]["message"]["tool_calls"]
    assert calls == openai_whole("openai_parallel")["choices"][0]["message"]["tool_calls"]
    assert len(fake_provider.calls_for("fake-echo")) == sent_before + 1
    usage = openai_whole("openai_parallel")["usage"]
    charged = PRICE.cost(usage["prompt_tokens"], usage["completion_tokens"])
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_tool_answers_are_never_served_from_the_cache(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    sent_before = len(fake_provider.calls_for("fake-echo"))
    first = post(client, user, model="fake-echo", temperature=0)
    second = post(client, user, model="fake-echo", temperature=0)
    assert first.headers["x-cache"] == second.headers["x-cache"] == "bypass"
    assert len(fake_provider.calls_for("fake-echo")) == sent_before + 2
    assert usage_for(second.headers["x-request-id"])["outcome"] == "ok"


def test_a_workspace_member_pays_tool_calls_from_the_workspace(
    client: httpx.Client, make_user: Any, settings: Settings
) -> None:
    from tests.integration.test_workspace_calls import fund, settled_wallet
    from tests.support.workspaces import create, join

    owner, member = make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    fund(settings, ws, 500_000)
    own_before = balance(client, member.headers)
    response, got = stream(client, member, model="fake-echo", headers={"X-Workspace-ID": ws})
    assert response.status_code == 200
    assert assemble(tool_deltas(got))[0]["function"]["name"] == "get_weather"
    record = usage_for(response.headers["x-request-id"])
    assert record["wallet_id"].startswith(f"ws-{ws}~") and record["credits"] > 0
    assert settled_wallet(client, member, ws)["available"] == 500_000 - record["credits"]
    assert balance(client, member.headers) == own_before


# Legacy functions.


def test_legacy_functions_answer_with_function_call(client: httpx.Client, user: User) -> None:
    functions = [WEATHER["function"]]
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": "fake-echo",
            "messages": ask("single"),
            "functions": functions,
            "function_call": "auto",
        },
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"] == {
        "name": "get_weather",
        "arguments": '{"location":"Paris, France"}',
    }
    assert "tool_calls" not in choice["message"]
    _, got = stream(client, user, model="fake-echo", messages=ask("single"), functions=functions, tools=None)
    pieces = [
        e["choices"][0]["delta"]["function_call"]
        for e in got
        if isinstance(e, dict) and e.get("choices") and "function_call" in e["choices"][0]["delta"]
    ]
    assert pieces[0]["name"] == "get_weather"
    assert "".join(p["arguments"] for p in pieces) == '{"location":"Paris, France"}'
    assert finish_of(got) == "function_call"
    history = [
        *ask("single"),
        {"role": "assistant", "content": None, "function_call": choice["message"]["function_call"]},
        {"role": "function", "name": "get_weather", "content": "sunny"},
    ]
    follow = client.post(
        "/v1/chat/completions",
        json={"model": "fake-echo", "messages": history, "functions": functions, "max_tokens": 3},
        headers=user.headers,
    )
    assert follow.status_code == 200, follow.text
    assert follow.json()["choices"][0]["message"]["content"]


# Bad input: 400, nothing reserved, nothing recorded, nothing charged.

CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
ASSISTANT = {"role": "assistant", "content": None, "tool_calls": [CALL]}
USER = {"role": "user", "content": "weather?"}
BAD_INPUTS = [
    (
        "unknown_tool_call_id",
        {"messages": [USER, ASSISTANT, {"role": "tool", "tool_call_id": "call_9", "content": "x"}]},
    ),
    (
        "tool_message_without_call",
        {"messages": [USER, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]},
    ),
    ("tool_call_id_missing", {"messages": [USER, ASSISTANT, {"role": "tool", "content": "x"}]}),
    ("tool_result_missing", {"messages": [USER, ASSISTANT, USER]}),
    (
        "duplicate_tool_result",
        {"messages": [USER, ASSISTANT, *[{"role": "tool", "tool_call_id": "call_1", "content": "x"}] * 2]},
    ),
    (
        "invalid_tool_schema",
        {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {"type": "object", "properties": {"q": {"type": 12}}},
                    },
                }
            ]
        },
    ),
    (
        "invalid_tool_schema",
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
    ),
    ("tool_choice_unknown_tool", {"tool_choice": {"type": "function", "function": {"name": "nope"}}}),
    ("too_many_tools", {"tools": [{"type": "function", "function": {"name": f"t{i}"}} for i in range(129)]}),
    ("duplicate_tool_name", {"tools": [WEATHER, WEATHER]}),
    ("tools_and_functions", {"functions": [WEATHER["function"]]}),
    ("tools_not_supported", {"model": "fake-basic"}),
    (
        "tools_not_supported",
        {
            "model": "fake-basic",
            "tools": None,
            "messages": [USER, ASSISTANT, {"role": "tool", "tool_call_id": "call_1", "content": "x"}, USER],
        },
    ),
]


@pytest.mark.parametrize(
    ("code", "change"), BAD_INPUTS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(BAD_INPUTS)]
)
@pytest.mark.parametrize("streamed", [False, True])
def test_bad_tool_input_is_refused_before_anything_is_reserved(
    client: httpx.Client,
    user: User,
    fake_provider: FakeProvider,
    code: str,
    change: dict[str, Any],
    streamed: bool,
) -> None:
    before = balance(client, user.headers)
    sent_before = len(fake_provider.calls)
    body = {"model": "fake-echo", "tools": TOOLS, "messages": ask("single"), "stream": streamed, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/v1/chat/completions", json=body, headers={**user.headers, **rid()})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert balance(client, user.headers) == before
    assert len(fake_provider.calls) == sent_before
    assert no_usage_record(response.headers["x-request-id"])
