"""Anthropic's Messages request, validated, and translated into the chat completions request every door
shares (OpenAI's shape), so a call costs the same whichever door it came through.

What is translated: `system` (a string or text blocks, `cache_control` kept), text / image / document
blocks, `tool_use` blocks (assistant tool calls, their `input` as JSON arguments), `tool_result` blocks
(`role: "tool"` messages, placed before the rest of their user turn, as they answer the calls just made),
`tools` (client tools with an `input_schema`), `tool_choice` (auto / any / tool / none and
`disable_parallel_tool_use`), `stop_sequences`, `temperature`, `top_p`, `top_k`, `metadata.user_id`.

Ignored safely (Claude Code sends them): `thinking` blocks in the history and the `thinking` setting (a
reasoning budget; the answer is the same kind of message without it), `service_tier`, `container`,
`citations` on text blocks, `cache_control` on tools. Refused, naming what: server tools we do not host
(web search, code execution, bash, the text editor, computer use) and block types we cannot translate.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BadRequest

# Blocks in a conversation's history that carry nothing a model needs again.
IGNORED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


class Block(BaseModel):
    """One content block; only `type` is read up front, the rest by the translation of its type."""

    model_config = ConfigDict(extra="allow")
    type: str


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str | list[Block]


class Tool(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    type: str | None = None  # absent or "custom" for client tools; a server tool names its version


class ToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class MessagesRequest(BaseModel):
    """`POST /v1/messages`. Unknown top-level fields are accepted and ignored (Anthropic adds fields and
    clients send them before a gateway knows them); the ones we act on are typed here."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200)
    max_tokens: int = Field(ge=1)
    messages: list[Message] = Field(min_length=1, max_length=2000)
    system: str | list[Block] | None = None
    tools: list[Tool] | None = Field(None, max_length=128)
    tool_choice: ToolChoice | None = None
    stop_sequences: list[str] | None = Field(None, max_length=16)
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=1)
    metadata: dict[str, Any] | None = None
    stream: bool = False

    def to_chat(self) -> dict[str, Any]:
        """The same call as a chat completions request body (validated again by that door's model)."""
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": self._system() + _conversation(self.messages),
            "stream": self.stream,
        }
        if self.tools:
            body["tools"] = [_tool(tool) for tool in self.tools]
        if self.tool_choice is not None:
            body.update(_tool_choice(self.tool_choice, self.tools or []))
        if self.stop_sequences:
            body["stop"] = self.stop_sequences
        for name in ("temperature", "top_p", "top_k"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        user = (self.metadata or {}).get("user_id")
        if isinstance(user, str) and user:
            body["user"] = user[:256]
        return body

    def _system(self) -> list[dict[str, Any]]:
        if self.system is None or self.system == "" or self.system == []:
            return []
        if isinstance(self.system, str):
            return [{"role": "system", "content": self.system}]
        parts = []
        for index, block in enumerate(self.system):
            if block.type != "text":
                raise BadRequest(
                    f"system[{index}] is a '{block.type}' block; the system prompt takes text blocks.",
                    code="invalid_system_block",
                )
            parts.append(_text_part(block, f"system[{index}]"))
        return [{"role": "system", "content": parts}]


def _conversation(messages: list[Message]) -> list[dict[str, Any]]:
    """Each Anthropic turn as one or more chat messages; every `tool_result` must answer a `tool_use`
    of the assistant turn just before it."""
    out: list[dict[str, Any]] = []
    open_calls: set[str] = set()
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if isinstance(message.content, str):
            out.append({"role": message.role, "content": message.content})
            open_calls = set()
            continue
        if message.role == "assistant":
            turn, open_calls = _assistant(message.content, where)
            out.append(turn)
        else:
            out.extend(_user(message.content, where, open_calls))
            open_calls = set()
    return out


def _assistant(blocks: list[Block], where: str) -> tuple[dict[str, Any], set[str]]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        at = f"{where}.content[{index}]"
        if block.type == "text":
            texts.append(str(_field(block, "text", at)))
        elif block.type == "tool_use":
            calls.append(_tool_call(block, at))
        elif block.type not in IGNORED_BLOCKS:
            raise BadRequest(
                f"{at} is a '{block.type}' block, which an assistant turn cannot carry here.",
                code="unsupported_content",
            )
    turn: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        turn["tool_calls"] = calls
    elif turn["content"] is None:
        turn["content"] = ""
    return turn, {call["id"] for call in calls}


def _tool_call(block: Block, at: str) -> dict[str, Any]:
    call_id = _field(block, "id", at)
    name = _field(block, "name", at)
    arguments = (block.model_extra or {}).get("input", {})
    if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(arguments, dict):
        raise BadRequest(
            f"{at}: a tool_use block needs a string id and name and an object input.", code="invalid_tool_use"
        )
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, separators=(",", ":"))},
    }


def _user(blocks: list[Block], where: str, open_calls: set[str]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        at = f"{where}.content[{index}]"
        if block.type == "tool_result":
            results.append(_tool_result(block, at, open_calls))
        elif block.type == "text":
            parts.append(_text_part(block, at))
        elif block.type == "image":
            parts.append(_image_part(block, at))
        elif block.type == "document":
            parts.append(_document_part(block, at))
        elif block.type not in IGNORED_BLOCKS:
            raise BadRequest(
                f"{at} is a '{block.type}' block; a user turn takes text, image, document and "
                "tool_result blocks.",
                code="unsupported_content",
            )
    turns = results
    if parts:
        turns.append({"role": "user", "content": parts})
    return turns


def _tool_result(block: Block, at: str, open_calls: set[str]) -> dict[str, Any]:
    call_id = _field(block, "tool_use_id", at)
    if call_id not in open_calls:
        raise BadRequest(
            f"{at}: tool_use_id '{call_id}' answers no tool_use block of the assistant turn before it.",
            code="unknown_tool_use_id",
        )
    content = (block.model_extra or {}).get("content", "")
    text = content if isinstance(content, str) else _result_text(content, at)
    if (block.model_extra or {}).get("is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _result_text(content: Any, at: str) -> str:
    """A tool result's blocks as text: the chat shape carries a tool's answer as a string."""
    if not isinstance(content, list):
        raise BadRequest(f"{at}: tool_result content must be a string or a list of blocks.")
    texts = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise BadRequest(
                f"{at}: a tool_result carries text blocks here, not '{kind}'.", code="unsupported_content"
            )
        texts.append(str(block.get("text", "")))
    return "".join(texts)


def _text_part(block: Block, at: str) -> dict[str, Any]:
    text = _field(block, "text", at)
    if not isinstance(text, str):
        raise BadRequest(f"{at}: a text block's text must be a string.")
    part: dict[str, Any] = {"type": "text", "text": text}
    cache = (block.model_extra or {}).get("cache_control")
    if cache is not None:
        part["cache_control"] = cache  # Anthropic's prompt caching, priced at the cache rates
    return part


def _image_part(block: Block, at: str) -> dict[str, Any]:
    source = _field(block, "source", at)
    if isinstance(source, dict) and source.get("type") == "base64":
        url = f"data:{source.get('media_type', '')};base64,{source.get('data', '')}"
    elif isinstance(source, dict) and source.get("type") == "url":
        url = str(source.get("url", ""))
    else:
        raise BadRequest(f"{at}: an image source is base64 or url.", code="invalid_image")
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(block: Block, at: str) -> dict[str, Any]:
    source = _field(block, "source", at)
    if isinstance(source, dict) and source.get("type") == "text":
        return {"type": "text", "text": str(source.get("data", ""))}
    if isinstance(source, dict) and source.get("type") == "base64":
        data = f"data:{source.get('media_type', '')};base64,{source.get('data', '')}"
        return {"type": "file", "file": {"file_data": data}}
    raise BadRequest(f"{at}: a document source is base64 or text here.", code="unsupported_content")


def _tool(tool: Tool) -> dict[str, Any]:
    if tool.type not in (None, "custom"):
        raise BadRequest(
            f"The tool '{tool.name}' is Anthropic's server tool '{tool.type}', which this API does not host; "
            "define it as a client tool with an input_schema.",
            code="unsupported_tool",
        )
    if tool.input_schema is None:
        raise BadRequest(f"The tool '{tool.name}' needs an input_schema.", code="invalid_tool")
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice, tools: list[Tool]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if choice.type == "tool":
        if not choice.name or choice.name not in {tool.name for tool in tools}:
            raise BadRequest(
                f"tool_choice names the tool '{choice.name}', which is not in tools.", code="unknown_tool"
            )
        out["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    else:
        out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice.disable_parallel_tool_use and tools:
        out["parallel_tool_calls"] = False
    return out


def _field(block: Block, name: str, at: str) -> Any:
    extra = block.model_extra or {}
    if name not in extra:
        raise BadRequest(f"{at}: a '{block.type}' block needs '{name}'.", code="invalid_content")
    return extra[name]
