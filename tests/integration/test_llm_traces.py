"""LLM traces (issue 16, item 7): off without Langfuse keys; with them, every metered call reaches Langfuse
(a local collector here) as a trace with its generation: model, tokens, cost, latency, the user and the
workspace as keyed hashes, and no prompt or answer unless the workspace opted in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from shared.telemetry.llm_traces import build_sink
from tests.fakes.collectors import Collector
from tests.support.helpers import grant_credits, sign_up, usage_for
from tests.support.leaks import CANARY_PROMPT
from tests.support.servers import ServerThread
from tests.support.workspaces import create


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


def generation_of(collector: Collector, credits: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in collector.langfuse_events():
            body = event["body"]
            if event["type"] == "generation-create" and body["metadata"]["credits"] == credits:
                return dict(body)
        time.sleep(0.1)
    raise AssertionError("no generation reached the collector")


def test_a_workspace_that_opts_in_sends_content_masked(
    traced: tuple[Collector, str], settings: Settings
) -> None:
    """Content goes to the tracer only for a workspace whose admins turned `trace_content` on; what the
    masking guardrail hid stays hidden there too. The same member's own calls send none."""
    collector, url = traced
    with httpx.Client(base_url=url, timeout=30) as client:
        owner = sign_up(client)
        ws = create(client, owner)["id"]
        grant_credits(settings, workspace_wallet_base(ws), 100_000, shards=settings.workspace_wallet_shards)
        policy = {"trace_content": True, "checks": {"pii": {"enabled": True, "action": "mask"}}}
        saved = client.put(f"/v1/workspaces/{ws}/guardrails", json=policy, headers=owner.headers)
        assert saved.status_code == 200, saved.text
        prompt = f"[[echo]] {CANARY_PROMPT} write to {owner.email} please"
        body = {"model": "fake-echo", "messages": [{"role": "user", "content": prompt}], "max_tokens": 60}
        headers = {**owner.headers, "X-Workspace-ID": ws}
        in_workspace = client.post("/v1/chat/completions", json=body, headers=headers)
        own = client.post("/v1/chat/completions", json=body, headers=owner.headers)
        assert in_workspace.status_code == 200 and own.status_code == 200, in_workspace.text
    shared_call = generation_of(collector, usage_for(in_workspace.headers["x-request-id"])["credits"])
    sent = str(shared_call["input"])
    assert CANARY_PROMPT in sent and owner.email not in sent  # the prompt, as the provider saw it
    answer = in_workspace.json()["choices"][0]["message"]["content"]
    assert owner.email in answer  # restored for the caller (fake-echo repeats the prompt) ...
    assert owner.email not in str(shared_call["output"]) and shared_call["output"]  # ... not for the tracer
    own_record = usage_for(own.headers["x-request-id"])
    own_call = next(
        e["body"]
        for e in collector.langfuse_events()
        if e["type"] == "generation-create"
        and e["body"]["id"] != shared_call["id"]
        and e["body"]["metadata"]["credits"] == own_record["credits"]
    )
    assert "input" not in own_call and "output" not in own_call


def test_no_keys_no_traces(settings: Settings) -> None:
    assert build_sink(settings) is None
