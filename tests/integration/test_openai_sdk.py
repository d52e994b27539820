"""The official openai SDK works against the API with base_url, streaming and not."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionContentPartParam

from tests.fakes.provider import FakeProvider, reply_words
from tests.support.helpers import User


@pytest.fixture
def sdk(api: str, user: User) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api}/v1", api_key=user.access_token, max_retries=0)


def test_sdk_non_streaming(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="fake-echo", max_tokens=3, messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "".join(reply_words(3))
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    # The SDK keeps fields it does not know: the charge rides along in usage.
    extra = completion.usage.model_extra or {}
    assert isinstance(extra["credits"], int) and extra["credits"] > 0
    assert extra["cost"] == extra["credits"] / 1_000_000


def test_sdk_streaming_with_usage(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="fake-echo",
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hi"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(reply_words(4))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert (chunks[-1].usage.model_extra or {})["credits"] > 0


def test_sdk_stream_without_include_usage_still_says_the_cost(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="fake-echo", max_tokens=2, stream=True, messages=[{"role": "user", "content": "hi"}]
    )
    chunks = list(stream)
    assert all(c.choices for c in chunks)  # a client reading choices[0] never meets an empty list
    last = chunks[-1]
    assert last.choices[0].finish_reason == "length"
    assert last.usage is not None and (last.usage.model_extra or {})["credits"] > 0


def test_sdk_lists_models_and_sees_typed_errors(sdk: openai.OpenAI, client: httpx.Client, user: User) -> None:
    ids = {m.id for m in sdk.models.list()}
    assert {"fake-echo", "fake-slow"} <= ids
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    listed = client.get("/v1/models", headers=user.headers).json()["data"]
    echo = next(m for m in listed if m["id"] == "fake-echo")
    assert echo["pricing"]["input"] == 100_000 and echo["pricing"]["output"] == 200_000
    auto = next(m for m in listed if m["id"] == "auto")
    assert auto["routes_to"] == ["fake-echo", "fleet-strong"]


def test_sdk_sends_image_parts_and_response_format(sdk: openai.OpenAI, fake_provider: FakeProvider) -> None:
    """Issue 12, items 2 and 3: the SDK's typed image parts and json_schema reach the provider as sent."""
    url = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode()
    content: list[ChatCompletionContentPartParam] = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://images.example.com/cat.png"}},
    ]
    completion = sdk.chat.completions.create(
        model="fake-echo",
        max_tokens=3,
        messages=[{"role": "user", "content": content}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "strict": True, "schema": {"type": "object", "properties": {}}},
        },
        logprobs=True,
        top_logprobs=1,
        seed=1,
    )
    assert completion.choices[0].message.content == "".join(reply_words(3))
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and [t.token for t in logprobs.content or []] == reply_words(3)
    seen = fake_provider.calls[-1].body
    assert seen["messages"][0]["content"] == content
    assert seen["response_format"]["json_schema"]["name"] == "answer" and seen["seed"] == 1
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model="fake-basic",
            messages=[{"role": "user", "content": content}],
            response_format={"type": "json_object"},
        )
    assert refused.value.code in ("images_not_supported", "response_format_not_supported")


def test_sdk_retrieves_one_model(sdk: openai.OpenAI) -> None:
    model = sdk.models.retrieve("fake-echo")
    assert (model.id, model.object, model.owned_by) == ("fake-echo", "model", "fake")
    assert (model.model_extra or {})["capabilities"]["images"] is True
    assert sdk.models.retrieve("echo-latest").id == "fake-echo"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("no-such-model")
