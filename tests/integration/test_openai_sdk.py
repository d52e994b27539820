"""The official openai SDK works against the API with base_url, streaming and not."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.provider import reply_words
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
