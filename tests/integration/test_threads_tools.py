"""Threads with tool calls: a reply's calls are stored, the results are posted back to the thread, and
the next turn replays calls and results to the model; a result that answers nothing changes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes.provider import FakeProvider, reply_words
from tests.fakes.tool_streams import TIME, WEATHER, openai_whole
from tests.support.helpers import User, balance, sse_events, wait_settled

TOOLS = [WEATHER, TIME]
ASK = "[[tools:parallel]] What is the weather and time in Paris?"


def post(client: httpx.Client, user: User, thread_id: str, **body: Any) -> list[Any]:
    with client.stream(
        "POST",
        f"/v1/threads/{thread_id}/messages",
        headers=user.headers,
        json={"model": "fake-echo", "max_tokens": 3, "tools": TOOLS, **body},
    ) as r:
        assert r.status_code == 200, r.read()
        return sse_events(list(r.iter_lines()))


def messages(client: httpx.Client, user: User, thread_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = client.get(f"/v1/threads/{thread_id}/messages", headers=user.headers).json()[
        "data"
    ]
    return data


def completed(events: list[Any]) -> dict[str, Any]:
    return next(e for e in events if isinstance(e, dict) and e.get("object") == "thread.message.completed")


def test_tool_calls_round_trip_through_a_thread(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    thread_id = client.post("/v1/threads", headers=user.headers).json()["id"]
    before = balance(client, user.headers)
    first = post(client, user, thread_id, content=ASK)
    calls = openai_whole("openai_parallel")["choices"][0]["message"]["tool_calls"]
    stored = messages(client, user, thread_id)
    assert [(m["seq"], m["role"]) for m in stored] == [(1, "user"), (2, "assistant")]
    assert stored[1]["tool_calls"] == calls and stored[1]["id"] == completed(first)["assistant_message_id"]
    results = [{"tool_call_id": c["id"], "content": f"result of {c['function']['name']}"} for c in calls]
    second = post(client, user, thread_id, tool_results=results)
    done = completed(second)
    assert len(done["tool_message_ids"]) == 2 and "user_message_id" not in done
    stored = messages(client, user, thread_id)
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "tool", "assistant"]
    assert [m.get("tool_call_id") for m in stored[2:4]] == [c["id"] for c in calls]
    assert stored[4]["content"] == "".join(reply_words(3))
    # The model saw the calls and their results in OpenAI's shape.
    sent = fake_provider.calls_for("fake-echo")[-1].body["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"] == calls
    assert [(m["role"], m["tool_call_id"], m["content"]) for m in sent[2:4]] == [
        ("tool", r["tool_call_id"], r["content"]) for r in results
    ]
    # Then the conversation goes on with a plain message.
    post(client, user, thread_id, content="thanks")
    assert len(messages(client, user, thread_id)) == 7
    charged = sum(m.get("credits") or 0 for m in messages(client, user, thread_id))
    assert charged > 0
    assert wait_settled(client, user.headers)["available"] == before["available"] - charged


def test_bad_tool_results_change_nothing(client: httpx.Client, user: User, make_user: Any) -> None:
    thread_id = client.post("/v1/threads", headers=user.headers).json()["id"]
    orphan = client.post(
        f"/v1/threads/{thread_id}/messages",
        json={"model": "fake-echo", "tool_results": [{"tool_call_id": "call_1", "content": "x"}]},
        headers=user.headers,
    )
    assert orphan.status_code == 400 and orphan.json()["error"]["code"] == "tool_message_without_call"
    post(client, user, thread_id, content=ASK)
    before = balance(client, user.headers)
    count = len(messages(client, user, thread_id))
    for body, code in (
        ({"tool_results": [{"tool_call_id": "call_nope", "content": "x"}]}, "unknown_tool_call_id"),
        ({"content": "never mind"}, "tool_result_missing"),
        (
            {"tool_results": [{"tool_call_id": "call_Kq1WcB5FVz3kN0yT8aHGmQ2r", "content": "x"}]},
            "tool_result_missing",
        ),
        ({"content": "hi", "model": "fake-basic"}, "tool_result_missing"),
    ):
        response = client.post(
            f"/v1/threads/{thread_id}/messages", json={"model": "fake-echo", **body}, headers=user.headers
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == code
    assert len(messages(client, user, thread_id)) == count
    assert balance(client, user.headers) == before
    intruder = make_user()
    foreign = client.post(
        f"/v1/threads/{thread_id}/messages",
        json={"tool_results": [{"tool_call_id": "call_Kq1WcB5FVz3kN0yT8aHGmQ2r", "content": "x"}]},
        headers=intruder.headers,
    )
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "thread_not_found"


def test_a_cut_reply_keeps_no_half_made_calls(client: httpx.Client, user: User) -> None:
    thread_id = client.post("/v1/threads", headers=user.headers).json()["id"]
    events = post(client, user, thread_id, content="[[tools:single]] [[fault:cut after=4]] weather?")
    assert any(isinstance(e, dict) and "error" in e for e in events)
    stored = messages(client, user, thread_id)
    assert stored[1]["status"] == "partial" and "tool_calls" not in stored[1]
    post(client, user, thread_id, content="try again later then")  # nothing is left waiting for a result
    assert len(messages(client, user, thread_id)) == 4
