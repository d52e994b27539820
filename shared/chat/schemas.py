"""Request and result shapes for chat (OpenAI-compatible) and threads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.chat import tools
from shared.chat.tools import (
    CalledFunction,
    FunctionCallChoice,
    FunctionDef,
    ToolCallPart,
    ToolChoice,
    ToolDef,
    ToolOptions,
)
from shared.errors import BadRequest

UNSUPPORTED = (
    "logprobs",
    "top_logprobs",
    "audio",
    "modalities",
    "prediction",
)


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    # Null only for an assistant message that carries tool calls.
    content: str | list[ContentPart] | None = None
    name: str | None = Field(None, max_length=64)
    tool_calls: list[ToolCallPart] | None = Field(None, max_length=tools.MAX_TOOL_CALLS)
    tool_call_id: str | None = Field(None, max_length=256)  # role "tool": the call it answers
    function_call: CalledFunction | None = None  # legacy assistant call

    @model_validator(mode="after")
    def _content_or_calls(self) -> ChatMessage:
        if self.content is None and not (
            self.role == "assistant" and (self.tool_calls or self.function_call)
        ):
            raise ValueError(f"a {self.role} message needs content")
        return self

    def as_text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        texts = []
        for part in self.content:
            if part.type != "text" or part.text is None:
                raise BadRequest(
                    f"Content parts of type '{part.type}' are not supported yet; send text.",
                    code="unsupported_content",
                )
            texts.append(part.text)
        return "".join(texts)

    def wire_content(self) -> str | list[dict[str, Any]] | None:
        """Text, or the text parts unchanged when they carry provider options such as Anthropic's
        `cache_control` (prompt caching), which flattening would lose; None beside tool calls."""
        if self.content is None:
            return None
        text = self.as_text()
        if isinstance(self.content, list) and any(part.model_extra for part in self.content):
            return [part.model_dump(exclude_none=True) for part in self.content]
        return text


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = Field(None, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=2000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int | None = Field(None, ge=1, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    user: str | None = Field(None, max_length=256)
    tools: list[ToolDef] | None = Field(None, max_length=10_000)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDef] | None = Field(None, max_length=10_000, description="legacy: use tools")
    function_call: FunctionCallChoice | None = Field(None, description="legacy: use tool_choice")

    def tool_options(self) -> ToolOptions:
        """The tools checked (shared/chat/tools.py), legacy functions translated; raises BadRequest."""
        return tools.check_options(
            self.tools, self.tool_choice, self.parallel_tool_calls, self.functions, self.function_call
        )

    def check_sizes(self, max_message_chars: int) -> None:
        """Refuse a message longer than the cap before anything counts its tokens (issue 11, item 8)."""
        for index, message in enumerate(self.messages):
            if isinstance(message.content, str):
                chars = len(message.content)
            else:
                chars = sum(len(part.text or "") for part in message.content or ())
            if chars > max_message_chars:
                raise BadRequest(
                    f"messages[{index}] has {chars} characters; a message may have at most "
                    f"{max_message_chars}. Shorten it or split the text over several requests.",
                    code="message_too_long",
                )

    def check_supported(self) -> None:
        extra = self.model_extra or {}
        for name in UNSUPPORTED:
            if extra.get(name) is not None:
                raise BadRequest(
                    f"The parameter '{name}' is not supported yet.", code="unsupported_parameter"
                )

    def wire_messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for m in self.messages:
            msg: dict[str, Any] = {
                "role": "system" if m.role == "developer" else m.role,
                "content": m.wire_content(),
            }
            if m.name:
                msg["name"] = m.name
            if m.tool_calls:
                msg["tool_calls"] = [call.model_dump() for call in m.tool_calls]
            if m.tool_call_id is not None:
                msg["tool_call_id"] = m.tool_call_id
            if m.function_call is not None:
                msg["function_call"] = m.function_call.model_dump()
            out.append(msg)
        if any(m.role == "function" or m.function_call for m in self.messages):
            out = tools.legacy_history(out)
        tools.check_history(out)
        return out

    def sampling(self) -> dict[str, Any]:
        return self.model_dump(
            include={"temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "user"},
            exclude_none=True,
        )

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CallResult(BaseModel):
    """What one metered model call produced; also what an idempotent replay returns."""

    id: str
    created: int
    model: str
    provider: str
    content: str
    finish_reason: str | None
    input_tokens: int
    output_tokens: int
    credits: int
    outcome: Literal["ok", "partial", "cancelled", "error", "cache_hit"]
    error: dict[str, str] | None = None
    route_reason: str | None = None  # why the `auto` model picked this model
    tool_calls: list[ToolCallPart] | None = None  # the answer's function calls, whole
    extra: dict[str, Any] = Field(default_factory=dict)
