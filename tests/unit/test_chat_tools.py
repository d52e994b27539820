"""shared/chat/tools.py: what is refused before anything is reserved, and the wire shapes of calls."""

from __future__ import annotations

from typing import Any

import pytest

from shared.chat import tools
from shared.chat.tools import CallAssembler, FunctionDef, FunctionName, NamedToolChoice, ToolDef
from shared.errors import BadRequest
from shared.gateway.types import ToolCall, ToolCallDelta

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def tool(name: str = "f", parameters: dict[str, Any] | None = None) -> ToolDef:
    return ToolDef(function=FunctionDef(name=name, parameters=parameters))


def code_of(call: Any) -> str:
    with pytest.raises(BadRequest) as raised:
        call()
    return str(raised.value.code)


def test_options_become_litellm_params() -> None:
    options = tools.check_options([tool()], NamedToolChoice(function=FunctionName(name="f")), True)
    assert options.params() == {
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": True,
    }
    assert tools.check_options(None, None, None).params() == {}


def test_legacy_functions_become_one_call_tools() -> None:
    options = tools.check_options(None, None, None, [FunctionDef(name="f")], FunctionName(name="f"))
    assert options.legacy and options.parallel is False
    assert options.params()["tool_choice"] == {"type": "function", "function": {"name": "f"}}


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (
            ([tool(parameters={"type": "object", "properties": {"a": {"type": "nope"}}})], None, None),
            "invalid_tool_schema",
        ),
        (([tool(parameters={"type": "array"})], None, None), "invalid_tool_schema"),
        (([tool(), tool()], None, None), "duplicate_tool_name"),
        (([tool(f"t{i}") for i in range(tools.MAX_TOOLS + 1)], None, None), "too_many_tools"),
        (([tool()], NamedToolChoice(function=FunctionName(name="g")), None), "tool_choice_unknown_tool"),
        ((None, "required", None), "tool_choice_without_tools"),
    ],
)
def test_bad_options_are_refused(args: tuple[Any, Any, Any], code: str) -> None:
    assert code_of(lambda: tools.check_options(*args)) == code


def test_tools_and_functions_together_are_refused() -> None:
    assert (
        code_of(lambda: tools.check_options([tool()], None, None, [FunctionDef(name="g")]))
        == "tools_and_functions"
    )


USER = {"role": "user", "content": "q"}
ASSISTANT = {"role": "assistant", "content": None, "tool_calls": [CALL, {**CALL, "id": "c2"}]}


def result(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "r"}


def test_a_complete_history_passes() -> None:
    tools.check_history(
        [USER, ASSISTANT, result("c2"), result("c1"), {"role": "assistant", "content": "a"}, USER]
    )


@pytest.mark.parametrize(
    ("history", "code"),
    [
        ([USER, result("c1")], "tool_message_without_call"),
        ([USER, ASSISTANT, result("c3")], "unknown_tool_call_id"),
        ([USER, ASSISTANT, result("c1"), result("c1")], "duplicate_tool_result"),
        ([USER, ASSISTANT, result("c1"), USER], "tool_result_missing"),
        ([USER, ASSISTANT], "tool_result_missing"),
        ([USER, {**ASSISTANT, "tool_calls": [CALL, CALL]}], "duplicate_tool_call_id"),
        ([USER, ASSISTANT, result("c1"), result("c2"), USER, result("c1")], "tool_message_without_call"),
        ([USER, ASSISTANT, {"role": "tool", "content": "r"}], "tool_call_id_missing"),
    ],
)
def test_bad_histories_are_refused(history: list[dict[str, Any]], code: str) -> None:
    assert code_of(lambda: tools.check_history(history)) == code


def test_legacy_history_pairs_function_messages_with_their_call() -> None:
    history = tools.legacy_history(
        [
            USER,
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
            {"role": "function", "name": "f", "content": "r"},
        ]
    )
    call_id = history[1]["tool_calls"][0]["id"]
    assert history[2] == {"role": "tool", "tool_call_id": call_id, "content": "r"}
    tools.check_history(history)


def test_deltas_go_out_in_openai_shape_and_assemble() -> None:
    deltas = [
        ToolCallDelta(0, "c1", "f", ""),
        ToolCallDelta(0, None, None, '{"a"'),
        ToolCallDelta(1, "c2", "g", "{}"),
        ToolCallDelta(0, None, None, ":1}"),
    ]
    assert tools.delta_wire(deltas[:2]) == [
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"a"'}},
    ]
    assembler = CallAssembler()
    assembler.add(deltas)
    assert assembler.result() == (ToolCall("c1", "f", '{"a":1}'), ToolCall("c2", "g", "{}"))
    assert tools.calls_text(assembler.result()) == 'f{"a":1}g{}'


def test_what_a_request_needs_of_its_model() -> None:
    from shared.catalog.catalog import ModelSpec
    from shared.chat.capabilities import ensure_supported

    with_tools = {"tools": [{"type": "function", "function": {"name": "f"}}]}
    assert tools.needs([USER], {}) == frozenset()
    assert tools.needs([USER], with_tools) == {"tools"}
    assert tools.needs([USER, ASSISTANT, result("c1"), result("c2")], {}) == {"tools"}  # history alone
    assert tools.needs([USER], {**with_tools, "parallel_tool_calls": True}) == {
        "tools",
        "parallel_tool_calls",
    }
    assert tools.needs([USER], {**with_tools, "parallel_tool_calls": False}) == {"tools"}
    base = ModelSpec("m", "p", "openai/m", 1, 1, 100, 10)
    ensure_supported(base, frozenset())
    assert code_of(lambda: ensure_supported(base, {"tools"})) == "tools_not_supported"
    only_tools = ModelSpec("m", "p", "openai/m", 1, 1, 100, 10, capabilities=frozenset({"tools"}))
    ensure_supported(only_tools, {"tools"})
    assert code_of(lambda: ensure_supported(only_tools, {"tools", "parallel_tool_calls"})) == (
        "parallel_tool_calls_not_supported"
    )
