"""Anthropic's Messages request translated into the chat completions request every door shares."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.errors import BadRequest
from shared.protocols.anthropic_request import MessagesRequest

WEATHER = {
    "name": "get_weather",
    "description": "Weather now",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def translate(**body: Any) -> dict[str, Any]:
    return MessagesRequest.model_validate({"model": "m", "max_tokens": 50, **body}).to_chat()


def test_plain_conversation_with_system_string_and_sampling() -> None:
    chat = translate(
        system="be brief",
        messages=[{"role": "user", "content": "hi"}],
        stop_sequences=["END"],
        temperature=0.2,
        top_k=5,
        metadata={"user_id": "u-1"},
    )
    assert chat["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert (chat["stop"], chat["temperature"], chat["top_k"], chat["user"]) == (["END"], 0.2, 5, "u-1")
    assert chat["max_tokens"] == 50 and chat["stream"] is False


def test_system_blocks_keep_cache_control() -> None:
    chat = translate(
        system=[{"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "hi"}],
    )
    assert chat["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral"}}],
    }


def test_tool_use_round_trip_becomes_tool_calls_and_tool_messages() -> None:
    chat = translate(
        tools=[WEATHER],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=[
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "two calls", "signature": "s"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "no data"}],
                        "is_error": True,
                    },
                    {"type": "text", "text": "and summarise"},
                ],
            },
        ],
    )
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER["input_schema"],
                "description": "Weather now",
            },
        }
    ]
    assert chat["tool_choice"] == "required" and chat["parallel_tool_calls"] is False
    assistant = chat["messages"][1]
    assert assistant["content"] == "Checking."
    assert [c["id"] for c in assistant["tool_calls"]] == ["toolu_1", "toolu_2"]
    assert json.loads(assistant["tool_calls"][1]["function"]["arguments"]) == {"city": "Rome"}
    assert chat["messages"][2:] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: no data"},
        {"role": "user", "content": [{"type": "text", "text": "and summarise"}]},
    ]


def test_named_tool_choice_and_images() -> None:
    chat = translate(
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                    {"type": "text", "text": "what is this"},
                ],
            }
        ],
    )
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    parts = chat["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}
    assert parts[1]["image_url"]["url"] == "https://example.com/a.jpg"


def test_unknown_top_level_fields_are_ignored() -> None:
    chat = translate(
        messages=[{"role": "user", "content": "hi"}],
        thinking={"type": "enabled", "budget_tokens": 1024},
        service_tier="auto",
        context_management={"edits": []},
    )
    assert "thinking" not in chat and "service_tier" not in chat


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": ""}]}
                ]
            },
            "unknown_tool_use_id",
        ),
        (
            {
                "tools": [{"name": "web_search", "type": "web_search_20250305"}],
                "messages": [{"role": "user", "content": "hi"}],
            },
            "unsupported_tool",
        ),
        (
            {
                "tools": [WEATHER],
                "tool_choice": {"type": "tool", "name": "nope"},
                "messages": [{"role": "user", "content": "hi"}],
            },
            "unknown_tool",
        ),
        ({"messages": [{"role": "user", "content": [{"type": "hologram", "x": 1}]}]}, "unsupported_content"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "invalid_content"),
    ],
)
def test_bad_input_is_a_clear_400(body: dict[str, Any], code: str) -> None:
    with pytest.raises(BadRequest) as caught:
        translate(**body)
    assert caught.value.code == code


def test_a_tool_result_must_answer_the_turn_just_before() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    with pytest.raises(BadRequest, match="toolu_1"):
        translate(
            tools=[WEATHER],
            messages=[
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [call]},
                {"role": "user", "content": "wait"},
                {"role": "assistant", "content": "ok"},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "late"}],
                },
            ],
        )


def test_max_tokens_is_required() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        MessagesRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
