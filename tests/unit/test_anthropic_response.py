"""Anthropic's message, event sequence and error shape, built from the chat door's output."""

from __future__ import annotations

import json
from typing import Any

from shared.protocols.anthropic_response import MessageEvents, error_body, error_status, message


def parse(events: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for raw in events:
        name_line, data_line = raw.decode().strip().split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        payload = json.loads(data_line.removeprefix("data: "))
        assert payload["type"] == name_line.removeprefix("event: ")
        out.append((payload["type"], payload))
    return out


def test_text_then_two_tool_calls_streamed_in_fragments() -> None:
    events = MessageEvents("chatcmpl-abc", "m", input_tokens=11)
    out = events.start()
    out += events.delta({"role": "assistant", "content": ""})
    out += events.delta({"content": "Let me "})
    out += events.delta({"content": "check."})
    out += events.delta(
        {
            "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "w", "arguments": ""}}
            ]
        }
    )
    out += events.delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]})
    out += events.delta({"tool_calls": [{"index": 0, "function": {"arguments": 'ty":"Paris"}'}}]})
    out += events.delta(
        {
            "tool_calls": [
                {"index": 1, "id": "call_2", "function": {"name": "w", "arguments": '{"city":"Rome"}'}}
            ]
        }
    )
    out += events.finish("tool_calls", output_tokens=30, credits=12)
    seq = parse(out)
    assert [name for name, _ in seq] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = seq[0][1]["message"]
    assert start["id"] == "msg_abc" and start["usage"] == {"input_tokens": 11, "output_tokens": 0}
    assert seq[2][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    tool = seq[6][1]
    assert tool["index"] == 1
    assert tool["content_block"] == {"type": "tool_use", "id": "call_1", "name": "w", "input": {}}
    fragments = [p["delta"]["partial_json"] for n, p in seq if n == "content_block_delta" and p["index"] == 1]
    assert fragments == ['{"ci', 'ty":"Paris"}']
    assert seq[10][1]["content_block"]["id"] == "call_2" and seq[10][1]["index"] == 2
    tail = seq[-2][1]
    assert tail["delta"]["stop_reason"] == "tool_use"
    assert tail["usage"]["output_tokens"] == 30 and tail["usage"]["credits"] == 12


def test_an_empty_answer_still_closes_properly() -> None:
    events = MessageEvents("chatcmpl-x", "m", 3)
    seq = parse(events.start() + events.finish("length", 0))
    assert [n for n, _ in seq] == ["message_start", "ping", "message_delta", "message_stop"]
    assert seq[2][1]["delta"]["stop_reason"] == "max_tokens"


def test_non_streamed_message_with_tool_use() -> None:
    completion = {
        "id": "chatcmpl-9",
        "model": "fake-echo",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "ok",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "w", "arguments": '{"city":"Oslo"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "w", "arguments": "{broken"},
                        },
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12, "credits": 3, "cost": 3e-6},
    }
    out = message(completion)
    assert out["id"] == "msg_9" and out["type"] == "message" and out["stop_reason"] == "tool_use"
    assert out["content"][0] == {"type": "text", "text": "ok"}
    assert out["content"][1] == {"type": "tool_use", "id": "call_1", "name": "w", "input": {"city": "Oslo"}}
    assert out["content"][2]["input"] == {"_unparsed_arguments": "{broken"}
    assert out["usage"] == {"input_tokens": 7, "output_tokens": 5, "credits": 3, "cost": 3e-6}


def test_errors_take_anthropics_shape_and_statuses() -> None:
    assert error_body(402, "buy credits") == {
        "type": "error",
        "error": {"type": "billing_error", "message": "buy credits"},
    }
    assert error_body(429, "slow")["error"]["type"] == "rate_limit_error"
    assert error_body(409, "busy")["error"]["type"] == "invalid_request_error"
    assert error_body(502, "x")["error"]["type"] == "api_error"
    assert error_status(503, "all_providers_failed") == 529
    assert error_body(529, "Overloaded")["error"]["type"] == "overloaded_error"
    assert error_status(503, "rate_limiter_unavailable") == 503


def test_the_final_usage_is_what_the_call_was_charged_for() -> None:
    """The provider may report other input tokens than the count at the start: the end says the charged."""
    events = MessageEvents("chatcmpl-x", "m", 3)
    seq = parse(events.start() + events.finish("stop", 2, credits=7, input_tokens=40))
    assert seq[0][1]["message"]["usage"]["input_tokens"] == 3
    assert seq[2][1]["usage"] == {"input_tokens": 40, "output_tokens": 2, "credits": 7, "cost": 7 / 1_000_000}
