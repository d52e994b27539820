"""Issue 17, item 4: a thread message may carry image parts (checked as chat completions checks them),
stored with the thread and replayed to the model with the history; a model without images is refused
while the thread holds any; oversize (413), a bad type or part (400) change nothing and charge nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.fakes.provider import FakeProvider
from tests.integration.test_chat_inputs import HTTPS_IMAGE, PNG, data_url, holds_count, image
from tests.support.helpers import User, assert_error, balance, sse_events, wait_settled


def question(*parts: dict[str, Any], text: str = "what is in this picture") -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}, *parts]


def post(client: httpx.Client, user: User, thread_id: str, content: Any, **extra: Any) -> httpx.Response:
    body = {"content": content, "model": "fake-echo", "max_tokens": 3, "stream": False, **extra}
    return client.post(f"/v1/threads/{thread_id}/messages", json=body, headers=user.headers)


@pytest.fixture
def thread_id(client: httpx.Client, user: User) -> str:
    created = client.post("/v1/threads", json={"title": "pictures"}, headers=user.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_image_parts_are_stored_and_replayed(
    client: httpx.Client, user: User, thread_id: str, fake_provider: FakeProvider
) -> None:
    parts = question(image(data_url()), {"type": "image_url", "image_url": {"url": HTTPS_IMAGE}})
    first = post(client, user, thread_id, parts)
    assert first.status_code == 200, first.text
    assert fake_provider.calls[-1].body["messages"] == [{"role": "user", "content": parts}]

    with client.stream(
        "POST",
        f"/v1/threads/{thread_id}/messages",
        json={"content": "and the colour?", "model": "fake-echo", "max_tokens": 3},
        headers=user.headers,
    ) as streamed:
        assert streamed.status_code == 200, streamed.read()
        assert any(isinstance(e, dict) and "usage" in e for e in sse_events(list(streamed.iter_lines())))
    replayed = fake_provider.calls[-1].body["messages"]
    assert replayed[0] == {"role": "user", "content": parts}, "the history replays the image parts"
    assert replayed[-1] == {"role": "user", "content": "and the colour?"}

    stored = client.get(f"/v1/threads/{thread_id}/messages", headers=user.headers).json()["data"]
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[0]["content"] == parts and stored[2]["content"] == "and the colour?"


def test_an_image_only_message_is_accepted(client: httpx.Client, user: User, thread_id: str) -> None:
    assert post(client, user, thread_id, [image(data_url())]).status_code == 200


def test_a_model_without_images_is_refused_while_the_thread_holds_one(
    client: httpx.Client, user: User, thread_id: str, fake_provider: FakeProvider
) -> None:
    assert_error(
        post(client, user, thread_id, question(image(data_url())), model="fake-basic"),
        400,
        "images_not_supported",
    )
    assert post(client, user, thread_id, question(image(data_url()))).status_code == 200
    calls = len(fake_provider.calls)
    # Text now, but the history replays the image: fake-basic cannot take it.
    assert_error(post(client, user, thread_id, "more?", model="fake-basic"), 400, "images_not_supported")
    assert len(fake_provider.calls) == calls


def test_bad_or_oversize_images_change_nothing(
    client: httpx.Client, user: User, thread_id: str, fake_provider: FakeProvider, settings: Settings
) -> None:
    before = wait_settled(client, user.headers)
    holds, calls = holds_count(user), len(fake_provider.calls)
    # ~920 KB of base64: within the request body limit, over what one thread message may store.
    stored_too_big = data_url(PNG + bytes(690_000))
    body_too_big = data_url(PNG + bytes(1_000_000))  # over the request body limit itself
    bad: list[tuple[Any, int, str]] = [
        (question(image(stored_too_big)), 413, "message_too_large"),
        (question(image(body_too_big)), 413, "request_too_large"),
        (question(image(data_url(PNG, "image/gif"))), 400, "invalid_image"),
        (question(image(data_url(b"%PDF-1.7" + bytes(64), "application/pdf"))), 400, "invalid_image"),
        (question(image(data_url(b"not an image at all", "image/png"))), 400, "invalid_image"),
        (question(image("http://images.example.com/cat.png")), 400, "invalid_image_url"),
        (question(image("data:image/png;base64,!!!!")), 400, "invalid_base64"),
        (question({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}), 400, ""),
        ([{"type": "text", "text": "   "}], 400, "empty_message"),
        ([], 422, "invalid_request"),
        (question(*[image(data_url())] * (settings.max_images_per_request + 1)), 400, "too_many_images"),
    ]
    for content, status, code in bad:
        response = post(client, user, thread_id, content)
        assert response.status_code == status, (code, response.text[:300])
        if code:
            assert_error(response, status, code)
        else:
            assert response.json()["error"]["code"] == "unsupported_content"
    assert len(fake_provider.calls) == calls, "the provider was called"
    assert holds_count(user) == holds
    assert balance(client, user.headers) == before
    assert client.get(f"/v1/threads/{thread_id}/messages", headers=user.headers).json()["data"] == []
    assert client.get(f"/v1/threads/{thread_id}", headers=user.headers).json()["message_count"] == 0


def test_someone_elses_thread_is_404(client: httpx.Client, make_user: Any, thread_id: str) -> None:
    other = make_user()
    assert_error(post(client, other, thread_id, question(image(data_url()))), 404, "thread_not_found")
