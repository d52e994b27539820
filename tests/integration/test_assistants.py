"""Assistants (issue 14, item 5) through the official openai SDK, unchanged: create, retrieve, list with its
cursor, modify, delete. A chat call or a thread message naming one gets its instructions, model, sampling
and function tools, and its usage record names it; a workspace's assistants are made by its admins and
used by its members; nobody else sees one (404); bad input is refused and stores nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.support.helpers import User, assert_error, balance, rid, sign_up, usage_for
from tests.support.workspaces import create, join

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather of a place.",
        "parameters": {"type": "object", "properties": {"place": {"type": "string"}}, "required": ["place"]},
    },
}


@pytest.fixture
def sdk(api: str, user: User) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api}/v1", api_key=user.access_token, max_retries=0)


def test_sdk_round_trip(sdk: openai.OpenAI) -> None:
    made = sdk.beta.assistants.create(
        model="fake-echo",
        name="Weather helper",
        description="Answers about the weather",
        instructions="You answer about the weather only.",
        tools=[WEATHER],  # type: ignore[list-item]
        metadata={"team": "north"},
        temperature=0.3,
        extra_body={"conversation_starters": ["Is it raining in Dhaka?"]},
    )
    assert made.id.startswith("asst_") and made.model == "fake-echo" and made.temperature == 0.3
    assert made.tools[0].type == "function" and made.metadata == {"team": "north"}
    assert (made.model_extra or {})["conversation_starters"] == ["Is it raining in Dhaka?"]
    second = sdk.beta.assistants.create(model="fake-echo", name="Second")
    page = sdk.beta.assistants.list(limit=1)
    assert [a.id for a in page.data] == [second.id] and page.has_more
    assert [a.id for a in sdk.beta.assistants.list(limit=1, after=second.id).data] == [made.id]
    changed = sdk.beta.assistants.update(made.id, name="Weather bot", description=None)
    assert changed.name == "Weather bot" and changed.description is None
    assert changed.instructions == "You answer about the weather only."  # untouched
    assert sdk.beta.assistants.retrieve(made.id).name == "Weather bot"
    assert sdk.beta.assistants.delete(made.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.beta.assistants.retrieve(made.id)


def test_chat_and_threads_answer_as_the_assistant(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    made = client.post(
        "/v1/assistants",
        json={"model": "fake-echo", "instructions": "Be brief.", "temperature": 0.2, "tools": [WEATHER]},
        headers=user.headers,
    ).json()
    asked = client.post(
        "/v1/chat/completions",
        json={"assistant_id": made["id"], "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
        headers={**user.headers, **rid()},
    )
    assert asked.status_code == 200, asked.text
    call = fake_provider.calls_for("fake-echo")[-1].body
    assert call["messages"][0] == {"role": "system", "content": "Be brief."}
    assert call["temperature"] == 0.2 and call["tools"][0]["function"]["name"] == "get_weather"
    assert usage_for(asked.headers["x-request-id"])["assistant_id"] == made["id"]

    thread = client.post("/v1/threads", json={"title": "t"}, headers=user.headers).json()["id"]
    posted = client.post(
        f"/v1/threads/{thread}/messages",
        json={"content": "hello", "assistant_id": made["id"], "stream": False, "max_tokens": 3},
        headers=user.headers,
    )
    assert posted.status_code == 200, posted.text
    call = fake_provider.calls_for("fake-echo")[-1].body
    assert call["messages"][0]["content"] == "Be brief." and call["messages"][-1]["content"] == "hello"
    stored = client.get(f"/v1/threads/{thread}/messages", headers=user.headers).json()["data"]
    assert all(m["role"] != "system" for m in stored)  # the thread keeps what was said, not the instructions


def test_a_workspace_assistant_is_its_admins_to_make_and_its_members_to_use(
    client: httpx.Client, make_user: Any
) -> None:
    owner, member, outsider = make_user(), make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    as_ws = {"X-Workspace-ID": ws}
    body = {"model": "fake-echo", "name": "Team helper"}
    assert_error(
        client.post("/v1/assistants", json=body, headers={**member.headers, **as_ws}), 403, "role_required"
    )
    made = client.post("/v1/assistants", json=body, headers={**owner.headers, **as_ws})
    assert made.status_code == 200, made.text
    aid = made.json()["id"]
    assert made.json()["workspace_id"] == ws
    listed = client.get("/v1/assistants", headers={**member.headers, **as_ws}).json()["data"]
    assert [a["id"] for a in listed] == [aid]
    assert client.get(f"/v1/assistants/{aid}", headers=member.headers).status_code == 200
    assert_error(
        client.post(f"/v1/assistants/{aid}", json={"name": "x"}, headers=member.headers), 403, "role_required"
    )
    for answer in (
        client.get(f"/v1/assistants/{aid}", headers=outsider.headers),
        client.post(f"/v1/assistants/{aid}", json={"name": "mine now"}, headers=outsider.headers),
        client.delete(f"/v1/assistants/{aid}", headers=outsider.headers),
        client.post(
            "/v1/chat/completions",
            json={"assistant_id": aid, "messages": [{"role": "user", "content": "hi"}]},
            headers=outsider.headers,
        ),
    ):
        assert_error(answer, 404, "assistant_not_found")
    assert client.get("/v1/assistants", headers={**outsider.headers, **as_ws}).status_code == 404
    assert client.get(f"/v1/assistants/{aid}", headers=owner.headers).json()["name"] == "Team helper"


def test_bad_input_is_refused_and_stores_nothing(client: httpx.Client, user: User) -> None:
    other = sign_up(client)
    theirs = client.post(
        "/v1/files",
        files={"file": ("a.txt", b"avatar?")},
        data={"purpose": "user_data"},
        headers=other.headers,
    ).json()["id"]
    before = client.get("/v1/assistants", headers=user.headers).json()["data"]
    for bad, status, code in (
        ({"model": "no-such-model"}, 404, "model_not_found"),
        ({"model": "fake-echo", "tools": [{"type": "code_interpreter"}]}, 422, "invalid_request"),
        ({"model": "fake-echo", "instructions": "x" * 256_001}, 422, "invalid_request"),
        ({"model": "fake-echo", "metadata": {f"k{i}": "v" for i in range(17)}}, 422, "invalid_request"),
        ({"model": "fake-echo", "avatar_file_id": theirs}, 404, "file_not_found"),
        ({"name": "no model"}, 422, "invalid_request"),
    ):
        assert_error(client.post("/v1/assistants", json=bad, headers=user.headers), status, code)
    assert client.get("/v1/assistants", headers=user.headers).json()["data"] == before
    assert client.get("/v1/assistants/asst_not-an-id", headers=user.headers).status_code == 404
    spent = balance(client, user.headers)
    missing = f"asst_{uuid.uuid4().hex}"
    assert_error(
        client.post(
            "/v1/chat/completions",
            json={"assistant_id": missing, "messages": [{"role": "user", "content": "hi"}]},
            headers=user.headers,
        ),
        404,
        "assistant_not_found",
    )
    assert balance(client, user.headers) == spent


def test_creating_assistants_is_rate_limited(client: httpx.Client) -> None:
    user = sign_up(client, headers={"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250}"})
    codes = [
        client.post(
            "/v1/assistants", json={"model": "fake-echo", "name": f"a{i}"}, headers=user.headers
        ).status_code
        for i in range(40)
    ]
    assert codes[0] == 200 and 429 in codes
