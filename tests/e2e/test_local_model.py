"""End to end with the real local model (SmolLM2-135M under xllamacpp): streaming, metering, disconnects."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from shared.catalog.catalog import ModelSpec
from tests.support.helpers import User, balance, rid, sse_events, usage_for, wait_settled

pytestmark = pytest.mark.model
LOCAL = ModelSpec("smollm2", "local", "openai/smollm2", 1000, 2000, 2048, 1024)
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]


@pytest.fixture(scope="module")
def model_url() -> str:
    url = os.environ.get("LOCAL_MODEL_URL")
    if not url:
        pytest.fail("LOCAL_MODEL_URL is not set: `make test` starts the local model.")
    return url.removesuffix("/v1")


def busy(model_url: str) -> bool:
    return any(slot["is_processing"] for slot in httpx.get(f"{model_url}/slots").json())


def test_local_model_streams_incrementally_and_charges_exactly(client: httpx.Client, user: User) -> None:
    before = balance(client, user.headers)
    headers = {**user.headers, **rid()}
    arrivals: list[float] = []
    lines: list[str] = []
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers=headers,
        json={
            "model": "local",
            "messages": STORY,
            "stream": True,
            "max_tokens": 40,
            "stream_options": {"include_usage": True},
        },
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-model"] == "smollm2"
        for line in response.iter_lines():
            lines.append(line)
            if '"content":"' in line and '"content":""' not in line:
                arrivals.append(time.monotonic())
    events = sse_events(lines)
    assert events[-1] == "[DONE]"
    assert len(arrivals) >= 5 and arrivals[-1] - arrivals[0] > 0.05, "tokens arrived in one burst"
    usage = events[-2]["usage"]
    assert 0 < usage["completion_tokens"] <= 40
    record = usage_for(headers["X-Request-ID"])
    assert record["usage_reported"] is True and record["outcome"] == "ok"
    assert record["credits"] == LOCAL.cost(usage["prompt_tokens"], usage["completion_tokens"])
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_disconnect_stops_the_local_generation(client: httpx.Client, user: User, model_url: str) -> None:
    before = balance(client, user.headers)
    headers = {**user.headers, **rid()}
    seen = 0
    with client.stream(
        "POST",
        "/v1/chat/completions",
        headers=headers,
        json={"model": "local", "messages": STORY, "stream": True, "max_tokens": 1000},
    ) as r:
        for line in r.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                seen += 1
            if seen == 8:
                assert busy(model_url), "the model should be generating"
                break
    left = time.monotonic()
    while busy(model_url) and time.monotonic() - left < 3:
        time.sleep(0.05)
    # 1000 tokens take ~10 s at ~100 tokens/s: still busy after 3 s means nobody stopped it.
    assert not busy(model_url), "the local model kept generating after the client left"
    record = usage_for(headers["X-Request-ID"])
    assert record["outcome"] == "cancelled"
    assert 8 <= record["output_tokens"] < 1000
    assert record["credits"] == LOCAL.cost(record["input_tokens"], record["output_tokens"])
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_local_model_non_streaming(client: httpx.Client, user: User) -> None:
    response = client.post(
        "/v1/chat/completions",
        headers=user.headers,
        json={"model": "smollm2", "max_tokens": 12, "messages": [{"role": "user", "content": "Say hello."}]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"]
    assert body["credits"] == LOCAL.cost(body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"])
