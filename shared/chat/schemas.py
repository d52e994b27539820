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
from shared.gateway.types import PASSTHROUGH

UNSUPPORTED = (
    "audio",
    "modalities",
    "prediction",
)


class ContentPart(BaseModel):
    """A text part, or an image_url, input_audio or file part (checked by shared/chat/content.py)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="text, image_url, input_audio or file")
    text: str | None = None
    image_url: Any = Field(
        None, description='{"url": "https://..." or "data:image/png;base64,...", "detail": "auto|low|high"}'
    )
    input_audio: Any = Field(None, description='{"data": "<base64>", "format": "wav|mp3"}')
    file: Any = Field(
        None, description='{"file_data": "data:application/pdf;base64,...", "filename": "..."} or {"file_id"}'
    )


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
        """The message's text parts joined; images, audio and files are not text and add nothing."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")

    def wire_content(self) -> str | list[dict[str, Any]] | None:
        """Text, or the parts unchanged when some are not text (images, audio, files) or carry provider
        options such as Anthropic's `cache_control` (prompt caching), which flattening would lose; None
        beside tool calls."""
        if self.content is None:
            return None
        if isinstance(self.content, list) and any(
            part.type != "text" or part.model_extra for part in self.content
        ):
            return [part.model_dump(exclude_none=True) for part in self.content]
        return self.as_text()


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = Field(None, max_length=200)
    messages: list[ChatMessage] = Field(default_factory=list, max_length=2000)
    # An extension: a prompt template (GET /v1/templates) rendered with `variables` is sent as the last
    # user message, after `messages` (which may then be empty).
    template_id: str | None = Field(
        None, max_length=100, description="A prompt template to send as the prompt."
    )
    variables: dict[str, str] | None = Field(None, max_length=100, description="The template's variables.")
    # An extension: an assistant (GET /v1/assistants) whose instructions, model and tools the call uses.
    assistant_id: str | None = Field(None, max_length=64, description="An assistant to answer as.")
    # An extension: answer from the caller's vector stores (the excerpts go before the conversation, the
    # answer carries `annotations` naming the files it cites).
    vector_store_ids: list[str] | None = Field(
        None, max_length=2, description="Vector stores to answer from."
    )
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int | None = Field(None, ge=1, description="Only 1 is served; more is a 400 naming `n`.")
    stop: str | list[str] | None = Field(None, description="Up to 4 sequences.")
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    user: str | None = Field(None, max_length=256)
    tools: list[ToolDef] | None = Field(None, max_length=10_000)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDef] | None = Field(None, max_length=10_000, description="legacy: use tools")
    function_call: FunctionCallChoice | None = Field(None, description="legacy: use tool_choice")

    # Checked by shared/chat/params.py (400s naming the parameter), passed through to the provider.
    response_format: dict[str, Any] | None = Field(
        None,
        description='{"type": "text"}, {"type": "json_object"} (models with the response_format capability) '
        'or {"type": "json_schema", "json_schema": {"name", "schema", "strict", "description"}} (models '
        "with json_schema); the schema must be valid JSON Schema.",
        examples=[{"type": "json_schema", "json_schema": {"name": "city", "strict": True, "schema": {}}}],
    )
    logprobs: bool | None = Field(
        None, description="Return the tokens' log probabilities (logprobs capability)."
    )
    top_logprobs: int | None = Field(None, ge=0, le=20, description="Alternatives per token; needs logprobs.")
    logit_bias: dict[str, int] | None = Field(None, description="Token id -> bias from -100 to 100.")

    @model_validator(mode="after")
    def _something_to_say(self) -> ChatCompletionRequest:
        if not self.messages and self.template_id is None:
            raise ValueError("messages must hold at least one message (or name a template_id)")
        if self.variables is not None and self.template_id is None:
            raise ValueError("variables fill a template: name its template_id")
        return self

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
        """The parameters passed through to the provider as the client set them."""
        return self.model_dump(include=set(PASSTHROUGH), exclude_none=True)

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
    outcome: Literal["ok", "partial", "cancelled", "client_stalled", "error", "cache_hit"]
    error: dict[str, str] | None = None
    route_reason: str | None = None  # why the `auto` model picked this model
    tool_calls: list[ToolCallPart] | None = None  # the answer's function calls, whole
    logprobs: dict[str, Any] | None = None  # the choice's logprobs, when asked for
    citations: list[dict[str, Any]] | None = None  # the excerpts of the caller's files the answer cites
    extra: dict[str, Any] = Field(default_factory=dict)
