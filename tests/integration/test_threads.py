"""Threads: replies stream over SSE, both messages are stored, nobody sees another user's thread."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes.provider import reply_words
from tests.support.helpers import User, balance, sse_events, wait_settled


def post(client: httpx.Client, user: User, thread_id: str, content: str, **extra: Any) -> list[Any]:
    headers = {**user.headers, **extra.pop("headers", {})}
    with client.stream(
        "POST",
        f"/v1/threads/{thread_id}/messages",
        headers=headers,
        json={"content": content, "model": "fake-echo", "max_tokens": 3, **extra},
    ) as r:
        assert r.status_code == 200, r.read()
        return sse_events(list(r.iter_lines()))


def test_thread_stores_both_messages_in_order(client: httpx.Client, user: User) -> None:
    created = client.post("/v1/threads", json={"title": "plans"}, headers=user.headers)
    assert created.status_code == 201
    thread_id = created.json()["id"]
    before = balance(client, user.headers)
    events = post(client, user, thread_id, "first question")
    done = next(e for e in events if isinstance(e, dict) and e.get("object") == "thread.message.completed")
    assert done["thread_id"] == thread_id
    usage = next(e for e in events if isinstance(e, dict) and "usage" in e)
    post(client, user, thread_id, "second question")
    messages = client.get(f"/v1/threads/{thread_id}/messages", headers=user.headers).json()["data"]
    assert [(m["seq"], m["role"]) for m in messages] == [
        (1, "user"),
        (2, "assistant"),
        (3, "user"),
        (4, "assistant"),
    ]
    assert messages[0]["content"] == "first question" and messages[1]["content"] == "".join(reply_words(3))
    assert messages[1]["id"] == done["assistant_message_id"]
    assert messages[1]["credits"] == usage["credits"] > 0
    after = wait_settled(client, user.headers)
    assert after["available"] == before["available"] - messages[1]["credits"] - messages[3]["credits"]
    thread = client.get(f"/v1/threads/{thread_id}", headers=user.headers).json()
    assert thread["message_count"] == 4
    listed = client.get("/v1/threads", headers=user.headers).json()["data"]
    assert thread_id in [t["id"] for t in listed]


def test_the_reply_sees_the_history(client: httpx.Client, user: User, fake_provider: Any) -> None:
    thread_id = client.post("/v1/threads", headers=user.headers).json()["id"]
    post(client, user, thread_id, "one")
    post(client, user, thread_id, "two")
    # History (one/3 words/two/3 words) plus "three": 9 words + 3 per message for 5 messages.
    done = next(e for e in post(client, user, thread_id, "three") if isinstance(e, dict) and "usage" in e)
    assert done["usage"]["prompt_tokens"] == 9 + 3 * 5


def test_another_users_thread_is_404_and_unchanged(client: httpx.Client, user: User, make_user: Any) -> None:
    thread_id = client.post("/v1/threads", headers=user.headers).json()["id"]
    post(client, user, thread_id, "mine")
    intruder = make_user()
    before = balance(client, intruder.headers)
    for method, path, body in (
        ("GET", f"/v1/threads/{thread_id}", None),
        ("GET", f"/v1/threads/{thread_id}/messages", None),
        ("POST", f"/v1/threads/{thread_id}/messages", {"content": "hi", "model": "fake-echo"}),
    ):
        response = client.request(method, path, json=body, headers=intruder.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "thread_not_found"
    assert balance(client, intruder.headers) == before
    messages = client.get(f"/v1/threads/{thread_id}/messages", headers=user.headers).json()["data"]
    assert len(messages) == 2
    assert client.get("/v1/threads/does-not-exist", headers=user.headers).status_code == 404


def test_thread_message_idempotency_and_validation(client: httpx.Client, user: User) -> None:
    thread_id = client.post("/v1/threads", headers=user.headers).json()["id"]
    key = {"Idempotency-Key": "msg-1"}
    first = post(client, user, thread_id, "hello", headers=key)
    again = post(client, user, thread_id, "hello", headers=key)

    def completed(events: list[Any]) -> dict[str, Any]:
        return next(
            e for e in events if isinstance(e, dict) and e.get("object") == "thread.message.completed"
        )

    assert completed(again) == completed(first)
    messages = client.get(f"/v1/threads/{thread_id}/messages", headers=user.headers).json()["data"]
    assert len(messages) == 2, "a replayed message must not be stored twice"
    empty = client.post(f"/v1/threads/{thread_id}/messages", json={"content": "   "}, headers=user.headers)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_message"
    assert len(client.get(f"/v1/threads/{thread_id}/messages", headers=user.headers).json()["data"]) == 2
