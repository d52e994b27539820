"""/v1/messages with images and prompt caching (issue 13, items 1 and 4): an image block reaches the
provider as an image part; a system block's `cache_control` reaches it unchanged and the cached tokens are
priced at the model's cache rates, as on the chat door."""

from __future__ import annotations

import base64

import anthropic
import httpx

from tests.fakes.provider import FakeProvider
from tests.integration.test_chat_inputs import PNG
from tests.integration.test_gateway_prompt_cache import LONG, expected_credits
from tests.support.helpers import User, balance, usage_for, wait_settled


def test_an_image_block_reaches_the_provider(api: str, user: User, fake_provider: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=api, auth_token=user.access_token, max_retries=0)
    sent = len(fake_provider.calls_for("fake-echo"))
    image = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    raw = client.messages.with_raw_response.create(
        model="fake-echo",
        max_tokens=3,
        messages=[
            {
                "role": "user",
                "content": [{"type": "image", "source": image}, {"type": "text", "text": "What is it?"}],
            }
        ],  # type: ignore[list-item]
    )
    message = raw.parse()
    assert message.stop_reason in ("end_turn", "max_tokens")
    parts = fake_provider.calls_for("fake-echo")[sent].body["messages"][0]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )
    record = usage_for(raw.headers["x-request-id"])
    assert record["api"] == "messages" and record["credits"] == (message.usage.model_extra or {})["credits"]


def test_cache_control_is_kept_and_priced_at_the_cache_rates(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    read, write = 30, 12
    fleet.cache_usage["fleet-cache"] = (read, write)
    before = balance(client, user.headers)
    body = {
        "model": "fleet-cache",
        "max_tokens": 4,
        "system": [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "say something"}],
    }
    response = client.post("/v1/messages", json=body, headers=user.headers)
    assert response.status_code == 200, response.text
    record = usage_for(response.headers["x-request-id"])
    assert (record["cache_read_tokens"], record["cache_write_tokens"]) == (read, write)
    expected = expected_credits(record["input_tokens"], read, write, record["output_tokens"])
    assert expected < expected_credits(record["input_tokens"], 0, 0, record["output_tokens"])
    assert record["credits"] == expected == response.json()["usage"]["credits"]
    assert wait_settled(client, user.headers)["available"] == before["available"] - expected
    system = fleet.calls_for("fleet-cache")[-1].body["messages"][0]["content"]
    assert isinstance(system, list) and system[0]["cache_control"] == {"type": "ephemeral"}
