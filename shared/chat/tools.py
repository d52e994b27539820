"""Tool calling (OpenAI's shape): the request's tools, checked before anything is reserved, and the calls.

A request may carry `tools`, `tool_choice`, `parallel_tool_calls`, or the legacy `functions` and
`function_call` (translated here into tools, so one path serves both); its history may carry assistant
messages with `tool_calls` and `role: "tool"` messages answering them (legacy: `function_call` and
`role: "function"`). Everything a provider would refuse only after a hold was taken is refused here
first, each with its own code: a tool message answering no call, an id that matches no call, a call
left unanswered, a `parameters` that is not JSON Schema, a named choice that names no tool, too many tools.

The answer's tool calls travel as typed values (shared/gateway/types.py ToolCall, ToolCallDelta) and
go out in OpenAI's shape whatever the provider: `index`, `id`, `type` and `function.name` on a call's
first delta, argument fragments after it, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BadRequest
from shared.gateway.types import ToolCall, ToolCallDelta

MAX_TOOLS = 128
MAX_TOOL_CALLS = 128  # per assistant message in the history
NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"


class FunctionDef(BaseModel):
    """A function the model may call: `parameters` is a JSON Schema of its arguments object."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN, description="a-z, A-Z, 0-9, _ and -, at most 64")
    description: str | None = Field(None, max_length=32_768)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["function"] = "function"
    function: FunctionDef


class FunctionName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)


class NamedToolChoice(BaseModel):
    """`{"type": "function", "function": {"name": ...}}`: the model must call this tool."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["function"] = "function"
    function: FunctionName


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice
FunctionCallChoice = Literal["none", "auto"] | FunctionName


class CalledFunction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    arguments: str = Field(max_length=200_000)


class ToolCallPart(BaseModel):
    """A call in an assistant message (history in, answer out): what the client sees and sends back."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: CalledFunction

    @classmethod
    def of(cls, call: ToolCall) -> ToolCallPart:
        return cls(id=call.id, function=CalledFunction(name=call.name, arguments=call.arguments))


@dataclass(frozen=True)
class ToolOptions:
    """The request's tool options once checked: what goes to the provider, and what the model needs."""

    tools: tuple[dict[str, Any], ...] = ()
    choice: str | dict[str, Any] | None = None
    parallel: bool | None = None
    legacy: bool = False  # sent as `functions`: the answer goes back as `function_call`

    def params(self) -> dict[str, Any]:
        """litellm's arguments (empty without tools, so a plain request is sent unchanged)."""
        if not self.tools:  # a choice without tools means nothing (OpenAI would refuse it)
            return {}
        out: dict[str, Any] = {"tools": list(self.tools)}
        if self.choice is not None:
            out["tool_choice"] = self.choice
        if self.parallel is not None:
            out["parallel_tool_calls"] = self.parallel
        return out


def check_options(
    tools: Sequence[ToolDef] | None,
    tool_choice: ToolChoice | None,
    parallel_tool_calls: bool | None,
    functions: Sequence[FunctionDef] | None = None,
    function_call: FunctionCallChoice | None = None,
) -> ToolOptions:
    """Check the tool options (legacy ones translated) and return them; raise BadRequest otherwise."""
    legacy = functions is not None or function_call is not None
    if legacy and (tools is not None or tool_choice is not None):
        raise BadRequest(
            "Send either `tools`/`tool_choice` or the legacy `functions`/`function_call`, not both.",
            code="tools_and_functions",
        )
    if legacy:
        tools = [ToolDef(function=f) for f in functions or ()]
        tool_choice = _legacy_choice(function_call)
        parallel_tool_calls = False if tools else None  # one call an answer, as functions had
    defs = list(tools or ())
    if len(defs) > MAX_TOOLS:
        raise BadRequest(
            f"{len(defs)} tools were sent; a request may carry at most {MAX_TOOLS}.", code="too_many_tools"
        )
    names: set[str] = set()
    for index, tool in enumerate(defs):
        name = tool.function.name
        if name in names:
            raise BadRequest(f"tools[{index}]: the name '{name}' is used twice.", code="duplicate_tool_name")
        names.add(name)
        _check_schema(index, tool.function)
    choice: str | dict[str, Any] | None = None
    if isinstance(tool_choice, NamedToolChoice):
        if tool_choice.function.name not in names:
            raise BadRequest(
                f"tool_choice names the function '{tool_choice.function.name}', which is not among the "
                f"tools ({', '.join(sorted(names)) or 'none were sent'}).",
                code="tool_choice_unknown_tool",
            )
        choice = tool_choice.model_dump()
    elif tool_choice is not None:
        if tool_choice == "required" and not defs:
            raise BadRequest(
                "tool_choice 'required' needs at least one tool.", code="tool_choice_without_tools"
            )
        choice = tool_choice
    return ToolOptions(
        tuple(t.model_dump(exclude_none=True) for t in defs),
        choice,
        parallel_tool_calls,
        legacy,
    )


def _legacy_choice(function_call: FunctionCallChoice | None) -> ToolChoice | None:
    if isinstance(function_call, FunctionName):
        return NamedToolChoice(function=function_call)
    return function_call


def _check_schema(index: int, function: FunctionDef) -> None:
    """`parameters` must be a JSON Schema (checked against its metaschema) describing an object."""
    schema = function.parameters
    if schema is None:
        return
    import jsonschema  # ~0.1 s to import: on the first request with tools, not at start-up

    try:
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise BadRequest(
            f"tools[{index}] ({function.name}): `parameters` is not a valid JSON Schema at {where}: "
            f"{exc.message}",
            code="invalid_tool_schema",
        ) from None
    except Exception:  # e.g. a `$schema` that is not a string: not a schema either
        raise BadRequest(
            f"tools[{index}] ({function.name}): `parameters` is not a valid JSON Schema.",
            code="invalid_tool_schema",
        ) from None
    if schema.get("type", "object") != "object":
        raise BadRequest(
            f"tools[{index}] ({function.name}): `parameters` must describe an object "
            f"(type 'object'), not '{schema.get('type')}'.",
            code="invalid_tool_schema",
        )


def check_history(messages: Sequence[dict[str, Any]]) -> None:
    """Each tool message answers a call of the assistant message just before it (only other tool
    messages between them), once; every call is answered before the conversation goes on."""
    pending: dict[str, bool] | None = None  # the open calls of the last assistant message: answered?
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not call_id:
                raise BadRequest(
                    f"messages[{index}]: a tool message needs `tool_call_id`.", code="tool_call_id_missing"
                )
            if pending is None:
                raise BadRequest(
                    f"messages[{index}]: a tool message must follow an assistant message with `tool_calls`; "
                    "none precedes it.",
                    code="tool_message_without_call",
                )
            if call_id not in pending:
                raise BadRequest(
                    f"messages[{index}]: tool_call_id '{call_id}' matches no call of the assistant message "
                    f"before it ({', '.join(pending) or 'none'}).",
                    code="unknown_tool_call_id",
                )
            if pending[call_id]:
                raise BadRequest(
                    f"messages[{index}]: the call '{call_id}' is already answered.",
                    code="duplicate_tool_result",
                )
            pending[call_id] = True
            continue
        _check_answered(pending, index)
        calls = message.get("tool_calls") if role == "assistant" else None
        pending = {str(c["id"]): False for c in calls} if calls else None
        if calls and len(pending or {}) != len(calls):
            raise BadRequest(f"messages[{index}]: two tool calls share an id.", code="duplicate_tool_call_id")
    _check_answered(pending, len(messages))


def _check_answered(pending: dict[str, bool] | None, index: int) -> None:
    if pending is None:
        return
    missing = [call_id for call_id, done in pending.items() if not done]
    if missing:
        raise BadRequest(
            f"messages[{index - 1}]: the tool calls {', '.join(missing)} have no tool message answering "
            "them; send one result per call (role 'tool', its tool_call_id) right after the assistant "
            "message.",
            code="tool_result_missing",
        )


def legacy_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Legacy turns as tool turns: an assistant `function_call` becomes one tool call with an id of its
    own, and the `role: "function"` message after it answers that id."""
    out: list[dict[str, Any]] = []
    last_id: dict[str, str] = {}
    for index, message in enumerate(messages):
        call = message.get("function_call")
        if message.get("role") == "assistant" and call:
            call_id = f"call_legacy_{index}"
            last_id[str(call["name"])] = call_id
            rest = {k: v for k, v in message.items() if k != "function_call"}
            out.append({**rest, "tool_calls": [{"id": call_id, "type": "function", "function": dict(call)}]})
        elif message.get("role") == "function":
            name = str(message.get("name") or "")
            if name not in last_id:
                raise BadRequest(
                    f"messages[{index}]: a function message must follow an assistant `function_call` of "
                    f"'{name}'; none precedes it.",
                    code="tool_message_without_call",
                )
            out.append({"role": "tool", "tool_call_id": last_id.pop(name), "content": message.get("content")})
        else:
            out.append(message)
    return out


def needs(messages: Iterable[dict[str, Any]], params: dict[str, Any]) -> frozenset[str]:
    """The catalog capabilities (shared/catalog/catalog.py) a request with these messages and
    provider parameters (ToolOptions.params) needs of the model serving it."""
    wanted: set[str] = set()
    if params.get("tools") or any(m.get("tool_calls") or m.get("role") == "tool" for m in messages):
        wanted.add("tools")
    if params.get("parallel_tool_calls") and params.get("tools"):
        wanted.add("parallel_tool_calls")
    return frozenset(wanted)


@dataclass
class CallAssembler:
    """A stream's tool calls put back together from their deltas (for settling and storing)."""

    calls: dict[int, list[str]] = field(default_factory=dict)  # index -> [id, name, arguments]

    def add(self, deltas: Iterable[ToolCallDelta]) -> None:
        for delta in deltas:
            parts = self.calls.setdefault(delta.index, ["", "", ""])
            if delta.id:
                parts[0] = delta.id
            if delta.name:
                parts[1] = delta.name
            parts[2] += delta.arguments

    def result(self) -> tuple[ToolCall, ...]:
        return tuple(ToolCall(i, n, a) for _, (i, n, a) in sorted(self.calls.items()))


def delta_wire(deltas: Sequence[ToolCallDelta]) -> list[dict[str, Any]]:
    """OpenAI's delta shape: `id`, `type` and `function.name` only where the call starts."""
    out = []
    for delta in deltas:
        function: dict[str, Any] = {}
        if delta.name is not None:
            function["name"] = delta.name
        function["arguments"] = delta.arguments
        item: dict[str, Any] = {"index": delta.index}
        if delta.id is not None:
            item.update(id=delta.id, type="function")
        item["function"] = function
        out.append(item)
    return out


def whole_deltas(calls: Sequence[ToolCallPart]) -> list[dict[str, Any]]:
    """Stored calls streamed back (an idempotent replay): one delta each, whole."""
    return [{"index": i, **call.model_dump()} for i, call in enumerate(calls)]


def calls_text(calls: Iterable[ToolCall]) -> str:
    """What the model wrote for its calls: the output to estimate when the provider gave no usage."""
    return "".join(call.name + call.arguments for call in calls)
