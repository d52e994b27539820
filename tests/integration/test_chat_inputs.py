"""Issue 12, items 2, 3 and 8 against the running API and the fake provider: images (https and data: URLs)
reach the provider unchanged and the hold counts them; response_format, logprobs and the other parameters
pass through and logprobs come back, streamed or not; a model without the capability, a bad part or a
bad parameter is a 400 that changes nothing (no hold, no usage record, no provider call, same balance);
GET /v1/models/{id}."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from shared.catalog.catalog import CAPABILITIES, DEFAULT_IMAGE_TOKENS, ModelSpec
from shared.settings import Settings
from tests.fakes.provider import INPUT_PRICE, OUTPUT_PRICE, FakeProvider, prompt_tokens, reply_words
from tests.support.helpers import User, assert_error, balance, db, rid, sse_events, usage_for, wait_settled

PRICE = ModelSpec("fake", "fake", "openai/fake", INPUT_PRICE, OUTPUT_PRICE, 8192, 2048)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
HTTPS_IMAGE = "https://images.example.com/cat.png"
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
            "required": ["name", "population"],
            "additionalProperties": False,
        },
    },
}


def data_url(raw: bytes = PNG, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def looking_at(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": "what is in these pictures"}, *parts]}]


def post(client: httpx.Client, caller: User, /, **body: Any) -> httpx.Response:
    headers = {**caller.headers, **rid()}
    body.setdefault("messages", [{"role": "user", "content": "say something nice"}])
    return client.post("/v1/chat/completions", json=body, headers=headers)


def hold_of(user: User, completion_id: str) -> dict[str, Any]:
    hold_id = completion_id.removeprefix("chatcmpl-")
    snap = db().collection("wallets").document(user.user_id).collection("holds").document(hold_id).get()
    assert snap.exists, completion_id
    return snap.to_dict() or {}


def holds_count(user: User) -> int:
    return len(list(db().collection("wallets").document(user.user_id).collection("holds").stream()))


def no_usage_record(request_id: str) -> bool:
    time.sleep(0.3)  # a record is written after the response: give one the time to appear
    query = db().collection("usage").where(filter=firestore.FieldFilter("request_id", "==", request_id))
    docs = query.limit(1).get()
    return not docs


def assert_nothing_changed(
    client: httpx.Client,
    user: User,
    response: httpx.Response,
    before: dict[str, int],
    holds: int,
    calls: int,
    fake: FakeProvider,
) -> None:
    assert len(fake.calls) == calls, "the provider was called"
    assert balance(client, user.headers) == before
    assert holds_count(user) == holds
    assert no_usage_record(response.headers["x-request-id"])


def test_images_reach_the_provider_unchanged_and_the_hold_counts_them(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    text_only = post(client, user, model="fake-echo", max_tokens=5, messages=looking_at())
    assert text_only.status_code == 200, text_only.text
    messages = looking_at(
        image(HTTPS_IMAGE), {"type": "image_url", "image_url": {"url": data_url(), "detail": "low"}}
    )
    before = wait_settled(client, user.headers)
    response = post(client, user, model="fake-echo", max_tokens=5, messages=messages)
    assert response.status_code == 200, response.text
    seen = fake_provider.calls[-1].body["messages"]
    assert seen == messages  # both parts, the data URL byte for byte
    # The hold counted each image at the catalog's estimate (1,600 tokens at 0.1 credit each) ...
    extra = hold_of(user, response.json()["id"])["amount"] - hold_of(user, text_only.json()["id"])["amount"]
    assert extra == 2 * DEFAULT_IMAGE_TOKENS * INPUT_PRICE // 1_000_000
    # ... and the call was settled at what the provider reported (85 tokens an image in the fake).
    record = usage_for(response.headers["x-request-id"])
    assert record["input_tokens"] == prompt_tokens(messages) and record["usage_reported"]
    assert record["credits"] == PRICE.cost(prompt_tokens(messages), 5) == response.json()["credits"]
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_a_streamed_answer_about_an_image(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    messages = looking_at(image(data_url()))
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers={**user.headers, **rid()},
        json={"model": "fake-echo", "messages": messages, "stream": True, "max_tokens": 4},
    ) as response:
        assert response.status_code == 200
        events = sse_events(list(response.iter_lines()))
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e.get("choices"))
    assert text == "".join(reply_words(4))
    call = fake_provider.calls[-1]
    assert call.stream and call.body["messages"] == messages


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"messages": looking_at(image(HTTPS_IMAGE))}, "images_not_supported"),
        ({"messages": looking_at(image(data_url()))}, "images_not_supported"),
        (
            {
                "messages": looking_at(
                    {"type": "input_audio", "input_audio": {"data": "SUQzAAAA", "format": "mp3"}}
                )
            },
            "audio_not_supported",
        ),
        (
            {
                "messages": looking_at(
                    {"type": "file", "file": {"file_data": data_url(b"%PDF-1.7", "application/pdf")}}
                )
            },
            "files_not_supported",
        ),
        ({"response_format": {"type": "json_object"}}, "response_format_not_supported"),
        ({"response_format": SCHEMA_FORMAT}, "response_format_not_supported"),
        ({"logprobs": True}, "logprobs_not_supported"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_a_model_without_the_capability_refuses_before_anything_is_reserved(
    client: httpx.Client,
    user: User,
    fake_provider: FakeProvider,
    body: dict[str, Any],
    code: str,
    stream: bool,
) -> None:
    before, holds, calls = balance(client, user.headers), holds_count(user), len(fake_provider.calls)
    response = post(client, user, model="fake-basic", stream=stream, **body)
    assert_error(response, 400, code)
    assert "fake-basic" in response.json()["error"]["message"]
    assert_nothing_changed(client, user, response, before, holds, calls, fake_provider)


def _bad_bodies(settings: Settings) -> list[tuple[dict[str, Any], str, str]]:
    """(body, code, a word the message must contain)"""
    too_big = PNG + b"\x00" * (settings.max_image_bytes + 1)
    return [
        ({"messages": looking_at(image(data_url(b"<html>not an image</html>")))}, "invalid_image", "PNG"),
        ({"messages": looking_at(image(data_url(PNG, "image/gif")))}, "invalid_image", "image/gif"),
        ({"messages": looking_at(image("data:image/png;base64,not-base64!"))}, "invalid_base64", "base64"),
        ({"messages": looking_at(image("http://images.example.com/cat.png"))}, "invalid_image_url", "https"),
        (
            {"messages": looking_at(image(data_url(too_big)))},
            "image_too_large",
            str(settings.max_image_bytes),
        ),
        (
            {"messages": looking_at(*[image(HTTPS_IMAGE)] * (settings.max_images_per_request + 1))},
            "too_many_images",
            str(settings.max_images_per_request),
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": 12}},
                }
            },
            "invalid_json_schema",
            "JSON Schema",
        ),
        ({"n": 3}, "unsupported_parameter", "'n'"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "unsupported_parameter", "'audio'"),
        ({"modalities": ["text", "audio"]}, "unsupported_parameter", "'modalities'"),
        ({"top_logprobs": 3}, "invalid_parameter", "logprobs"),
    ]


def test_bad_parts_and_parameters_are_400s_that_change_nothing(
    client: httpx.Client, user: User, fake_provider: FakeProvider, settings: Settings
) -> None:
    for body, code, word in _bad_bodies(settings):
        before, holds, calls = balance(client, user.headers), holds_count(user), len(fake_provider.calls)
        response = post(client, user, model="fake-echo", **body)
        assert_error(response, 400, code)
        assert word in response.json()["error"]["message"], response.json()
        assert_nothing_changed(client, user, response, before, holds, calls, fake_provider)


def test_a_20_mb_data_url_is_refused_at_the_body_limit(
    client: httpx.Client, user: User, fake_provider: FakeProvider, settings: Settings
) -> None:
    before, holds, calls = balance(client, user.headers), holds_count(user), len(fake_provider.calls)
    huge = "data:image/png;base64," + "A" * (20 * 1024 * 1024)
    response = post(client, user, model="fake-echo", messages=looking_at(image(huge)))
    assert_error(response, 413, "request_too_large")
    assert str(settings.max_chat_request_bytes) in response.json()["error"]["message"]
    assert_nothing_changed(client, user, response, before, holds, calls, fake_provider)


def test_structured_output_and_sampling_parameters_pass_through(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    params = {
        "seed": 42,
        "stop": ["\n\n", "END"],
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "logit_bias": {"50256": -100, "1234": 5},
    }
    for response_format in ({"type": "json_object"}, SCHEMA_FORMAT):
        # `user` is accepted; litellm sends it on to OpenAI's own models only (not to an OpenAI-compatible
        # endpoint such as the fake, some of which refuse it).
        response = post(
            client,
            user,
            model="fake-echo",
            max_tokens=3,
            response_format=response_format,
            user="u-7",
            **params,
        )
        assert response.status_code == 200, response.text
        seen = fake_provider.calls[-1].body
        assert seen["response_format"] == response_format
        assert {name: seen.get(name) for name in params} == params


def test_logprobs_come_back_whole_and_streamed(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    response = post(
        client, user, model="fake-echo", max_tokens=3, logprobs=True, top_logprobs=2, temperature=0
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-cache"] == "bypass"  # a cached answer would not have them
    assert (fake_provider.calls[-1].body["logprobs"], fake_provider.calls[-1].body["top_logprobs"]) == (
        True,
        2,
    )
    content = response.json()["choices"][0]["logprobs"]["content"]
    assert [entry["token"] for entry in content] == reply_words(3)
    assert all(len(entry["top_logprobs"]) == 2 and entry["logprob"] < 0 for entry in content)

    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers={**user.headers, **rid()},
        json={
            "model": "fake-echo",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "max_tokens": 3,
            "logprobs": True,
            "top_logprobs": 1,
        },
    ) as streamed:
        assert streamed.status_code == 200
        events = sse_events(list(streamed.iter_lines()))
    chunks = [e for e in events[:-1] if e.get("choices") and e["choices"][0]["delta"].get("content")]
    assert [c["choices"][0]["delta"]["content"] for c in chunks] == reply_words(3)
    assert [c["choices"][0]["logprobs"]["content"][0]["token"] for c in chunks] == reply_words(3)

    plain = post(client, user, model="fake-echo", max_tokens=2)
    assert plain.json()["choices"][0]["logprobs"] is None


def test_the_exact_cache_keys_on_the_image(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    first = looking_at(image(data_url(PNG + b"first")))
    second = looking_at(image(data_url(PNG + b"second")))
    assert (
        post(client, user, model="fake-echo", temperature=0, max_tokens=3, messages=first).headers["x-cache"]
        == "miss"
    )
    again = post(client, user, model="fake-echo", temperature=0, max_tokens=3, messages=first)
    assert again.headers["x-cache"] == "hit"
    other = post(client, user, model="fake-echo", temperature=0, max_tokens=3, messages=second)
    assert other.headers["x-cache"] == "miss"
    assert fake_provider.calls[-1].body["messages"] == second


def test_one_model_in_openais_shape_with_its_capabilities(client: httpx.Client, user: User) -> None:
    echo = client.get("/v1/models/fake-echo", headers=user.headers)
    assert echo.status_code == 200, echo.text
    body = echo.json()
    assert {k: body[k] for k in ("id", "object", "created", "owned_by")} == {
        "id": "fake-echo",
        "object": "model",
        "created": 0,
        "owned_by": "fake",
    }
    assert body["capabilities"] == dict.fromkeys(sorted(CAPABILITIES), True)
    assert (body["context_window"], body["max_output_tokens"]) == (8192, 2048)
    assert body["pricing"] == {
        "unit": "credits per million tokens",
        "input": INPUT_PRICE,
        "output": OUTPUT_PRICE,
    }
    assert body["image_input_tokens"] == DEFAULT_IMAGE_TOKENS
    assert client.get("/v1/models/echo-latest", headers=user.headers).json() == body  # an alias resolves
    basic = client.get("/v1/models/fake-basic", headers=user.headers).json()
    assert basic["capabilities"] == dict.fromkeys(sorted(CAPABILITIES), False)
    listed = {m["id"]: m for m in client.get("/v1/models", headers=user.headers).json()["data"]}
    assert listed["fake-echo"] == body and listed["fake-basic"]["capabilities"]["images"] is False
    assert client.get("/v1/models/auto", headers=user.headers).json()["routes_to"] == [
        "fake-echo",
        "fleet-strong",
    ]


def test_an_unknown_or_disabled_model_is_404(client: httpx.Client, user: User) -> None:
    assert_error(client.get("/v1/models/no-such-model", headers=user.headers), 404, "model_not_found")
    listed = {m["id"] for m in client.get("/v1/models", headers=user.headers).json()["data"]}
    if "smollm2" not in listed:  # its provider (the local model) is not configured in this run
        assert_error(client.get("/v1/models/smollm2", headers=user.headers), 404, "model_not_found")
    assert client.get("/v1/models/fake-echo").status_code == 401
