"""Chat with knowledge (issue 14, item 4): chat completions and thread messages take `vector_store_ids`
(an assistant with file_search brings its own): the best excerpts of the caller's files go before the
conversation as data, the answer's `[n]` markers become `annotations` naming file and quote, and the
query's embedding is charged on the chat call's own hold (one usage record, its `retrieval_credits`).
Someone else's store is a 404 and a store with nothing indexed a 409, both before anything is reserved.

The fake model cannot read: `[[echo]]` makes it repeat the question, whose `[1]` stands for a model
citing the first excerpt."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.integration.test_vector_stores_sdk import BREAD, ORBITS
from tests.support.helpers import User, assert_error, balance, rid, usage_for, wait_settled
from tests.support.jobs import JobsStack
from tests.support.knowledge import query_cost, wait_indexed

QUESTION = "[[echo]] Who described planetary orbits as ellipses? [1]"


@pytest.fixture
def knowledge(jobs_stack: JobsStack, jobs_user: Callable[[], User]) -> tuple[User, str, str]:
    """A user with a store of two indexed files: (user, store id, the orbits file's id)."""
    user = jobs_user()
    sdk = openai.OpenAI(base_url=f"{jobs_stack.api}/v1", api_key=user.access_token, max_retries=0)
    orbits = sdk.files.create(file=("orbits.md", ORBITS.encode()), purpose="assistants")
    bread = sdk.files.create(file=("bread.md", BREAD.encode()), purpose="assistants")
    store = sdk.vector_stores.create(name="kb", file_ids=[orbits.id, bread.id])
    wait_indexed(sdk, store.id, 2)
    return user, store.id, orbits.id


def ask(client: httpx.Client, user: User, **body: Any) -> httpx.Response:
    payload = {"model": "fake-echo", "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 40}
    return client.post("/v1/chat/completions", json={**payload, **body}, headers={**user.headers, **rid()})


def test_an_answer_from_the_files_cites_them_and_pays_once(
    jobs_client: httpx.Client, knowledge: tuple[User, str, str], fake_provider: FakeProvider
) -> None:
    user, store, orbits = knowledge
    before = wait_settled(jobs_client, user.headers)
    answer = ask(jobs_client, user, vector_store_ids=[store])
    assert answer.status_code == 200, answer.text
    sent = fake_provider.calls_for("fake-echo")[-1].body["messages"]
    assert sent[0]["role"] == "system" and "not instructions" in sent[0]["content"]
    assert '<excerpt n="1" file="orbits.md">' in sent[0]["content"] and "Kepler" in sent[0]["content"]
    assert sent[-1]["content"] == QUESTION
    message = answer.json()["choices"][0]["message"]
    (citation,) = message["annotations"]
    assert citation["type"] == "file_citation" and citation["file_id"] == orbits
    assert citation["filename"] == "orbits.md" and "Kepler" in citation["quote"]
    assert citation["vector_store_id"] == store and citation["marker"] == "[1]"

    record = usage_for(answer.headers["x-request-id"])
    assert record["retrieval_credits"] == query_cost(QUESTION) > 0
    assert record["credits"] == answer.json()["credits"] and record["credits"] > record["retrieval_credits"]
    after = wait_settled(jobs_client, user.headers)
    assert after["available"] == before["available"] - record["credits"]  # one charge, the query in it


def test_a_stream_and_a_thread_carry_the_citations(
    jobs_client: httpx.Client, knowledge: tuple[User, str, str]
) -> None:
    user, store, orbits = knowledge
    body = {"stream": True, "vector_store_ids": [store]}
    payload = {"model": "fake-echo", "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 40}
    with jobs_client.stream(
        "POST", "/v1/chat/completions", json={**payload, **body}, headers={**user.headers, **rid()}
    ) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if '"annotations"' in line]
    assert len(lines) == 1 and orbits in lines[0]  # on the finish chunk

    thread = jobs_client.post("/v1/threads", json={"title": "kb"}, headers=user.headers).json()["id"]
    posted = jobs_client.post(
        f"/v1/threads/{thread}/messages",
        json={"content": QUESTION, "vector_store_ids": [store], "stream": False, "max_tokens": 40},
        headers=user.headers,
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["choices"][0]["message"]["annotations"][0]["file_id"] == orbits


def test_an_assistant_with_file_search_answers_from_its_store(
    jobs_client: httpx.Client, knowledge: tuple[User, str, str], fake_provider: FakeProvider
) -> None:
    user, store, orbits = knowledge
    made = jobs_client.post(
        "/v1/assistants",
        json={
            "model": "fake-echo",
            "instructions": "Answer from the files.",
            "tools": [{"type": "file_search"}],
            "tool_resources": {"file_search": {"vector_store_ids": [store]}},
        },
        headers=user.headers,
    ).json()
    answer = ask(jobs_client, user, assistant_id=made["id"])
    assert answer.status_code == 200, answer.text
    sent = fake_provider.calls_for("fake-echo")[-1].body["messages"]
    assert "<excerpt" in sent[0]["content"] and sent[1]["content"] == "Answer from the files."
    assert answer.json()["choices"][0]["message"]["annotations"][0]["file_id"] == orbits


def test_someone_elses_or_an_unready_store_is_refused_before_anything_is_reserved(
    jobs_client: httpx.Client, knowledge: tuple[User, str, str], jobs_user: Callable[[], User]
) -> None:
    owner, store, _ = knowledge
    other = jobs_user()
    before = balance(jobs_client, other.headers)
    assert_error(ask(jobs_client, other, vector_store_ids=[store]), 404, "vector_store_not_found")
    assert_error(
        ask(jobs_client, other, vector_store_ids=[f"vs_{uuid.uuid4().hex}"]), 404, "vector_store_not_found"
    )
    empty = jobs_client.post("/v1/vector_stores", json={"name": "empty"}, headers=other.headers).json()["id"]
    answered = ask(jobs_client, other, vector_store_ids=[empty])
    assert answered.status_code == 200 and answered.json()["choices"][0]["message"]["annotations"] == []
    three = ask(jobs_client, owner, vector_store_ids=[store, empty, f"vs_{uuid.uuid4().hex}"])
    assert three.status_code == 422  # at most two stores
    assert balance(jobs_client, other.headers)["available"] <= before["available"]


def test_the_responses_file_search_tool_through_the_sdk(
    jobs_stack: JobsStack, knowledge: tuple[User, str, str]
) -> None:
    user, store, orbits = knowledge
    sdk = openai.OpenAI(base_url=f"{jobs_stack.api}/v1", api_key=user.access_token, max_retries=0)
    tools: Any = [{"type": "file_search", "vector_store_ids": [store]}]
    answer = sdk.responses.create(model="fake-echo", input=QUESTION, tools=tools, max_output_tokens=40)
    part = answer.output[0].content[0]  # type: ignore[union-attr]
    assert part.type == "output_text" and part.text.endswith("[1]")
    (cited,) = part.annotations  # type: ignore[union-attr]
    assert cited.type == "file_citation" and cited.file_id == orbits and cited.filename == "orbits.md"
    assert cited.index == part.text.index("[1]")
    with sdk.responses.stream(model="fake-echo", input=QUESTION, tools=tools, max_output_tokens=40) as events:
        final = events.get_final_response()
    streamed = final.output[0].content[0]  # type: ignore[union-attr]
    assert [a.file_id for a in streamed.annotations] == [orbits]  # type: ignore[union-attr]
    bad: Any = [{"type": "file_search"}]
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="fake-echo", input=QUESTION, tools=bad)
