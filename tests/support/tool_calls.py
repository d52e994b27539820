"""Helpers for the tool-calling tests on /v1/chat/completions: requests with the recorded tool streams of
tests/fakes/tool_streams.py, and what a client builds from the streamed deltas."""

from __future__ import annotations

import time
from typing import Any

import httpx
from google.cloud import firestore

from shared.catalog.catalog import ModelSpec
from tests.fakes.provider import INPUT_PRICE, OUTPUT_PRICE
from tests.fakes.tool_streams import TIME, WEATHER
from tests.support.helpers import User, db, rid, sse_events

PRICE = ModelSpec("fake", "fake", "openai/fake", INPUT_PRICE, OUTPUT_PRICE, 8192, 2048)
TOOLS = [WEATHER, TIME]


def ask(script: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"[[tools:{script}]] What is the weather and time in Paris?"}]


def post(
    client: httpx.Client, user: User, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    body.setdefault("tools", TOOLS)
    body.setdefault("messages", ask("single"))
    return client.post(
        "/v1/chat/completions", json=body, headers={**user.headers, **rid(), **(headers or {})}
    )


def stream(client: httpx.Client, user: User, **body: Any) -> tuple[httpx.Response, list[Any]]:
    body.setdefault("tools", TOOLS)
    body.setdefault("messages", ask("single"))
    headers = {**user.headers, **rid(), **body.pop("headers", {})}
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}, headers=headers) as r:
        lines = list(r.iter_lines())
    return r, sse_events(lines)


def tool_deltas(events_: list[Any]) -> list[list[dict[str, Any]]]:
    """The `delta.tool_calls` of each chunk that has some, in order."""
    out = []
    for event in events_:
        if isinstance(event, dict) and event.get("choices"):
            calls = event["choices"][0].get("delta", {}).get("tool_calls")
            if calls:
                out.append(calls)
    return out


def content_of(events_: list[Any]) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events_
        if isinstance(e, dict) and e.get("choices")
    )


def finish_of(events_: list[Any]) -> str | None:
    reasons = [
        e["choices"][0]["finish_reason"]
        for e in events_
        if isinstance(e, dict) and e.get("choices") and e["choices"][0].get("finish_reason")
    ]
    assert len(reasons) == 1, events_
    return str(reasons[0])


def assemble(deltas: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """What a client builds from the deltas (as the openai SDK does)."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in deltas:
        for piece in chunk:
            call = calls.setdefault(
                piece["index"], {"id": None, "type": None, "function": {"name": None, "arguments": ""}}
            )
            for key in ("id", "type"):
                if key in piece:
                    assert call[key] is None, f"{key} sent twice for call {piece['index']}"
                    call[key] = piece[key]
            function = piece["function"]
            if "name" in function:
                assert call["function"]["name"] is None, "name sent twice"
                call["function"]["name"] = function["name"]
            call["function"]["arguments"] += function["arguments"]
    return [calls[i] for i in sorted(calls)]


def no_usage_record(request_id: str) -> bool:
    time.sleep(0.3)  # a record would be written right after the answer
    query = db().collection("usage").where(filter=firestore.FieldFilter("request_id", "==", request_id))
    return not list(query.stream())
