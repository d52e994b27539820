"""The official openai SDK calls tools through the API: `create(..., tools=...)`, raw streamed chunks and
the `chat.completions.stream(...)` helper assemble the calls the provider sent, and the usual agent loop
(append the assistant message, then one tool message per call) gets the final answer."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.fakes.tool_streams import TEXT_REPLY, TIME, WEATHER, anthropic_whole, openai_whole
from tests.support.helpers import User

TOOLS: Any = [WEATHER, TIME]


@pytest.fixture
def sdk(api: str, user: User) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api}/v1", api_key=user.access_token, max_retries=0)


def ask(script: str) -> Any:
    return [{"role": "user", "content": f"[[tools:{script}]] What is the weather and time in Paris?"}]


def expected(script: str) -> list[tuple[str, str, str]]:
    calls = openai_whole(f"openai_{script}")["choices"][0]["message"]["tool_calls"]
    return [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls]


def test_create_with_tools_returns_the_calls(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model="fake-echo", messages=ask("parallel"), tools=TOOLS)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == expected("parallel")  # type: ignore[union-attr]
    assert completion.usage is not None and completion.usage.completion_tokens == 46


def test_raw_stream_chunks_carry_the_fragments(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(model="fake-echo", messages=ask("single"), tools=TOOLS, stream=True)
    )
    pieces = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert pieces[0].id == expected("single")[0][0] and pieces[0].function is not None
    assert pieces[0].function.name == "get_weather"
    assert all(p.id is None and p.function is not None and p.function.name is None for p in pieces[1:])
    assert "".join(p.function.arguments or "" for p in pieces if p.function) == expected("single")[0][2]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "tool_calls"
    ]


@pytest.mark.parametrize("model", ["fake-echo", "fake-claude"])
def test_the_stream_helper_assembles_the_calls(sdk: openai.OpenAI, model: str) -> None:
    with sdk.chat.completions.stream(model=model, messages=ask("parallel"), tools=TOOLS) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.delta" in kinds and "tool_calls.function.arguments.done" in kinds
    calls = final.choices[0].message.tool_calls or []
    got = [(c.id, c.function.name, c.function.arguments) for c in calls]  # type: ignore[union-attr]
    if model == "fake-echo":
        assert got == expected("parallel")
    else:
        blocks = [b for b in anthropic_whole("anthropic_parallel")["content"] if b["type"] == "tool_use"]
        assert [(i, n, json.loads(a)) for i, n, a in got] == [
            (b["id"], b["name"], b["input"]) for b in blocks
        ]
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("model", ["fake-echo", "fake-claude", "fake-gemini"])
def test_the_agent_loop_round_trip(sdk: openai.OpenAI, model: str) -> None:
    messages: Any = ask("parallel")
    first = sdk.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    assistant = first.choices[0].message
    messages.append(assistant)  # as agent code does: the SDK's message object itself
    for call in assistant.tool_calls or []:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"ok": true}'})
    final = sdk.chat.completions.create(model=model, messages=messages, tools=TOOLS, max_tokens=6)
    assert final.choices[0].finish_reason in ("stop", "length")
    assert final.choices[0].message.content
    if model != "fake-echo":
        assert final.choices[0].message.content == "".join(TEXT_REPLY)


def test_a_model_without_tools_is_a_typed_400(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="fake-basic", messages=ask("single"), tools=TOOLS)
    assert raised.value.code == "tools_not_supported"
