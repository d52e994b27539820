"""Guardrails on tool calls (issue 16, item 1): with a policy that screens output, a tool call's arguments
pass post_call like text. In a stream the fragments are held back and each call comes whole once it
passed; a block ends the answer with guardrail_blocked and pays for what the provider produced."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from tests.fakes.tool_streams import WEATHER
from tests.support.helpers import User, assert_error, grant_credits, rid, sse_events, usage_for
from tests.support.workspaces import create

ASK = [{"role": "user", "content": "[[tools:single]] What's the weather where I am?"}]


def workspace_with(client: httpx.Client, owner: User, settings: Settings, action: str) -> dict[str, str]:
    ws = create(client, owner)["id"]
    grant_credits(settings, workspace_wallet_base(ws), 100_000, shards=settings.workspace_wallet_shards)
    banned = {"enabled": True, "action": action, "words": ["France"], "stages": ["pre_call", "post_call"]}
    saved = client.put(
        f"/v1/workspaces/{ws}/guardrails", json={"checks": {"banned": banned}}, headers=owner.headers
    )
    assert saved.status_code == 200, saved.text
    return {**owner.headers, "X-Workspace-ID": ws}


def stream(client: httpx.Client, headers: dict[str, str]) -> tuple[int, list[Any]]:
    body = {"model": "fake-echo", "messages": ASK, "tools": [WEATHER], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body, headers={**headers, **rid()}) as r:
        return r.status_code, sse_events(list(r.iter_lines()))


def tool_deltas(events: list[Any]) -> list[dict[str, Any]]:
    return [
        call
        for e in events
        if isinstance(e, dict) and e.get("choices")
        for call in e["choices"][0]["delta"].get("tool_calls") or []
    ]


def test_without_output_screening_the_fragments_stream_as_they_come(client: httpx.Client, user: User) -> None:
    status, events = stream(client, user.headers)
    assert status == 200
    assert len(tool_deltas(events)) > 3  # the provider's fragments, unchanged


def test_a_masked_argument_comes_whole_and_masked(
    client: httpx.Client, make_user: Any, settings: Settings
) -> None:
    headers = workspace_with(client, make_user(), settings, "mask")
    status, events = stream(client, headers)
    assert status == 200
    (call,) = tool_deltas(events)  # one piece
    assert call["function"]["name"] == "get_weather" and call["id"]
    arguments = json.loads(call["function"]["arguments"])  # still JSON
    assert "France" not in arguments["location"] and arguments["location"].startswith("Paris")
    whole = client.post(
        "/v1/chat/completions",
        json={"model": "fake-echo", "messages": ASK, "tools": [WEATHER]},
        headers={**headers, **rid()},
    )
    assert whole.status_code == 200, whole.text
    (answer,) = whole.json()["choices"][0]["message"]["tool_calls"]
    assert "France" not in answer["function"]["arguments"]
    record = usage_for(whole.headers["x-request-id"])
    assert any(h["check"] == "banned" and h["action"] == "mask" for h in record["guardrails"])


@pytest.mark.parametrize("streamed", [True, False])
def test_a_blocked_argument_never_reaches_the_client_and_the_call_is_paid(
    client: httpx.Client, make_user: Any, settings: Settings, streamed: bool
) -> None:
    headers = workspace_with(client, make_user(), settings, "block")
    if streamed:
        status, events = stream(client, headers)
        assert status == 200 and tool_deltas(events) == []
        errors = [e for e in events if isinstance(e, dict) and "error" in e]
        assert errors and errors[-1]["error"]["code"] == "guardrail_blocked"
        request_id = None
    else:
        response = client.post(
            "/v1/chat/completions",
            json={"model": "fake-echo", "messages": ASK, "tools": [WEATHER]},
            headers={**headers, **rid()},
        )
        assert_error(response, 400, "guardrail_blocked")
        assert "France" not in response.text
        assert int(response.headers["x-credits-charged"]) > 0
        request_id = response.headers["x-request-id"]
    if request_id is not None:
        record = usage_for(request_id)
        assert record["credits"] > 0 and record["output_tokens"] > 0
