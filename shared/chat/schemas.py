"""Request and result shapes for chat (OpenAI-compatible) and threads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BadRequest

UNSUPPORTED = (
    "tools",
    "tool_choice",
    "functions",
    "function_call",
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
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart]
    name: str | None = Field(None, max_length=64)

    def as_text(self) -> str:
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

    def wire_content(self) -> str | list[dict[str, Any]]:
        """Text, or the text parts unchanged when they carry provider options such as Anthropic's
        `cache_control` (prompt caching), which flattening would lose."""
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

    def check_sizes(self, max_message_chars: int) -> None:
        """Refuse a message longer than the cap before anything counts its tokens (issue 11, item 8)."""
        for index, message in enumerate(self.messages):
            if isinstance(message.content, str):
                chars = len(message.content)
            else:
                chars = sum(len(part.text or "") for part in message.content)
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
            out.append(msg)
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
    extra: dict[str, Any] = Field(default_factory=dict)
