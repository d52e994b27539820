"""The moderation check (issue 16, item 1c) against the fake provider's `/v1/moderations`, through litellm:
pre_call refuses before anything is reserved; during_call runs beside the provider and cuts the call (a
verdict before the answer: nothing charged; after it began: what was produced is charged); an endpoint
that is down lets the call through, or blocks it when the policy says fail_closed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from tests.fakes.provider import FakeProvider
from tests.support.helpers import User, assert_error, balance, grant_credits, rid, sse_events, usage_for
from tests.support.workspaces import create


def workspace(client: httpx.Client, owner: User, settings: Settings, **moderation: Any) -> dict[str, str]:
    ws = create(client, owner)["id"]
    grant_credits(settings, workspace_wallet_base(ws), 100_000, shards=settings.workspace_wallet_shards)
    policy = {"checks": {"moderation": {"enabled": True, **moderation}}}
    saved = client.put(f"/v1/workspaces/{ws}/guardrails", json=policy, headers=owner.headers)
    assert saved.status_code == 200, saved.text
    return {**owner.headers, "X-Workspace-ID": ws}


def ask(client: httpx.Client, headers: dict[str, str], text: str, **extra: Any) -> httpx.Response:
    body = {"model": "fake-echo", "messages": [{"role": "user", "content": text}], "max_tokens": 8, **extra}
    return client.post("/v1/chat/completions", json=body, headers={**headers, **rid()})


def test_pre_call_refuses_before_anything_is_reserved(
    client: httpx.Client, make_user: Any, settings: Settings, fake_provider: FakeProvider
) -> None:
    headers = workspace(client, make_user(), settings, stages=["pre_call"])
    before = balance(client, headers)
    sent = len(fake_provider.calls_for("fake-echo"))
    refused = ask(client, headers, "[[flagged]] something awful")
    assert_error(refused, 400, "guardrail_blocked")
    assert (
        "moderation" in refused.json()["error"]["message"]
        and "violence" in refused.json()["error"]["message"]
    )
    assert balance(client, headers) == before and len(fake_provider.calls_for("fake-echo")) == sent
    assert ask(client, headers, "a kind question").status_code == 200
    assert any("a kind question" in text for text in fake_provider.moderation.inputs)


def test_during_call_cuts_the_call_before_the_answer_and_charges_nothing(
    client: httpx.Client, make_user: Any, settings: Settings
) -> None:
    headers = workspace(client, make_user(), settings)  # during_call, block: the defaults
    before = balance(client, headers)
    # fake-slow takes 50 ms a word: 40 words outlast the verdict by far.
    refused = ask(client, headers, "[[flagged]] something awful", model="fake-slow", max_tokens=40)
    assert_error(refused, 400, "guardrail_blocked")
    assert balance(client, headers) == before


def test_during_call_cuts_a_stream_and_charges_what_was_produced(
    client: httpx.Client, make_user: Any, settings: Settings
) -> None:
    headers = workspace(client, make_user(), settings)
    body = {
        "model": "fake-slow",
        "messages": [{"role": "user", "content": "[[flagged-late]] tell me a long story"}],
        "max_tokens": 60,
        "stream": True,
    }
    with client.stream("POST", "/v1/chat/completions", json=body, headers={**headers, **rid()}) as response:
        assert response.status_code == 200
        events = sse_events(list(response.iter_lines()))
        request_id = response.headers["x-request-id"]
    text = "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )
    errors = [e["error"] for e in events if isinstance(e, dict) and "error" in e]
    assert errors and errors[-1]["code"] == "guardrail_blocked"
    words = len(text.split())
    assert 0 < words < 60  # some came before the verdict (0.6 s), most never did
    record = usage_for(request_id)
    assert record["credits"] > 0 and 0 < record["output_tokens"] < 60
    assert any(h["check"] == "moderation" and h["action"] == "block" for h in record["guardrails"])


@pytest.mark.parametrize("fail_closed", [False, True])
def test_an_endpoint_that_is_down_lets_through_unless_fail_closed(
    client: httpx.Client, make_user: Any, settings: Settings, fail_closed: bool
) -> None:
    headers = workspace(client, make_user(), settings, stages=["pre_call"], fail_closed=fail_closed)
    answer = ask(client, headers, "[[moderation-down]] hello")
    if fail_closed:
        assert_error(answer, 400, "guardrail_blocked")
        assert "unavailable" in answer.json()["error"]["message"]
    else:
        assert answer.status_code == 200, answer.text
        record = usage_for(answer.headers["x-request-id"])
        assert {"check": "moderation", "kind": "unavailable", "action": "log_only", "count": 1} in record[
            "guardrails"
        ]


def test_a_bad_moderation_policy_is_refused(client: httpx.Client, make_user: Any) -> None:
    owner = make_user()
    ws = create(client, owner)["id"]
    path = f"/v1/workspaces/{ws}/guardrails"
    for bad in (
        {"checks": {"moderation": {"action": "mask"}}},
        {"checks": {"moderation": {"stages": ["post_call"]}}},
        {"checks": {"pii": {"stages": ["during_call"]}}},
    ):
        assert_error(client.put(path, json=bad, headers=owner.headers), 400, "invalid_guardrail_policy")
