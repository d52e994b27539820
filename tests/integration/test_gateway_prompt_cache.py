"""Provider prompt caching: `cache_control` parts pass through, cached input tokens are priced at the
model's cache read and write rates (fleet-cache: input 100000, read 10000, write 125000 per million)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.provider import (
    CACHE_READ_PRICE,
    CACHE_WRITE_PRICE,
    INPUT_PRICE,
    OUTPUT_PRICE,
    FakeProvider,
    prompt_tokens,
)
from tests.support.helpers import User, balance, rid, sse_events, usage_for, wait_settled

LONG = "alpha " * 40
MESSAGES: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}],
    },
    {"role": "user", "content": "say something"},
]


def expected_credits(prompt: int, read: int, write: int, output: int) -> int:
    """Anthropic's formula: uncached input, cache reads and cache writes each at their own rate."""
    micro = (
        (prompt - read - write) * INPUT_PRICE
        + read * CACHE_READ_PRICE
        + write * CACHE_WRITE_PRICE
        + output * OUTPUT_PRICE
    )
    return -(-micro // 1_000_000)


@pytest.mark.parametrize("streamed", [False, True])
def test_cached_input_is_priced_at_the_cache_rates(
    client: httpx.Client, user: User, fleet: FakeProvider, streamed: bool
) -> None:
    read, write = 30, 12
    fleet.cache_usage["fleet-cache"] = (read, write)
    before = balance(client, user.headers)
    body = {"model": "fleet-cache", "messages": MESSAGES, "max_tokens": 4, "stream": streamed}
    headers = {**user.headers, **rid()}
    if streamed:
        body["stream_options"] = {"include_usage": True}
        with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
            assert r.status_code == 200
            credits = sse_events(list(r.iter_lines()))[-2]["credits"]
    else:
        response = client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200, response.text
        credits = response.json()["credits"]
    prompt = prompt_tokens(MESSAGES)
    expected = expected_credits(prompt, read, write, 4)
    assert expected < expected_credits(prompt, 0, 0, 4)  # reads are cheaper; the test would notice
    assert credits == expected
    assert wait_settled(client, user.headers)["available"] == before["available"] - expected
    record = usage_for(headers["X-Request-ID"])
    assert (record["cache_read_tokens"], record["cache_write_tokens"]) == (read, write)
    assert record["input_tokens"] == prompt and record["credits"] == expected
    # The cache_control part reached the provider unchanged.
    (call,) = fleet.calls_for("fleet-cache")
    system = call.body["messages"][0]["content"]
    assert isinstance(system, list) and system[0]["cache_control"] == {"type": "ephemeral"}
