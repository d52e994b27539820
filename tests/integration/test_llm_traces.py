"""LLM traces (issue 16, item 7): off without Langfuse keys; with them, every metered call reaches Langfuse
(a local collector here) as a trace with its generation: model, tokens, cost, latency, the user and the
workspace as keyed hashes, and no prompt or answer."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from shared.settings import Settings
from shared.telemetry.llm_traces import build_sink
from tests.fakes.collectors import Collector
from tests.support.helpers import sign_up, usage_for
from tests.support.leaks import CANARY_PROMPT
from tests.support.servers import ServerThread


@pytest.fixture
def traced(settings: Settings) -> Iterator[tuple[Collector, str]]:
    from run_services.api.main import create_app

    collector = Collector()
    with ServerThread(collector.app) as sink:
        update = {
            "langfuse_public_key": "pk-lf-test",
            "langfuse_secret_key": SecretStr("sk-lf-test"),
            "langfuse_host": sink.url,
        }
        with ServerThread(create_app(settings.model_copy(update=update))) as api:
            yield collector, api.url


def test_a_chat_call_is_one_langfuse_trace_without_content(traced: tuple[Collector, str]) -> None:
    collector, url = traced
    with httpx.Client(base_url=url, timeout=30) as client:
        user = sign_up(client)
        body = {
            "model": "fake-echo",
            "messages": [{"role": "user", "content": CANARY_PROMPT}],
            "max_tokens": 4,
        }
        response = client.post("/v1/chat/completions", json=body, headers=user.headers)
        assert response.status_code == 200, response.text
    record = usage_for(response.headers["x-request-id"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        e["type"] == "generation-create" and e["body"]["metadata"]["credits"] == record["credits"]
        for e in collector.langfuse_events()
    ):
        time.sleep(0.1)
    events = collector.langfuse_events()
    generation = next(e["body"] for e in events if e["type"] == "generation-create")
    trace = next(
        e["body"] for e in events if e["type"] == "trace-create" and e["body"]["id"] == generation["traceId"]
    )
    assert collector.auth[0] == "pk-lf-test:sk-lf-test"
    assert generation["model"] == record["model"]
    assert generation["usageDetails"] == {"input": record["input_tokens"], "output": record["output_tokens"]}
    assert generation["costDetails"]["total"] == record["credits"] / 1_000_000
    assert trace["userId"] and trace["userId"] != user.user_id and len(trace["userId"]) == 24
    raw = str(collector.batches)
    assert CANARY_PROMPT not in raw and user.user_id not in raw and user.email not in raw
    assert "input" not in generation and "output" not in generation  # no content fields at all


def test_no_keys_no_traces(settings: Settings) -> None:
    assert build_sink(settings) is None
