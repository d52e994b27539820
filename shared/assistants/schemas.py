"""Assistants in OpenAI's shape (`/v1/assistants`, the SDK's `client.beta.assistants`), with two extensions
the web app shows: `conversation_starters` and `avatar_file_id`. Tools: `file_search` (its vector store in
`tool_resources.file_search.vector_store_ids`, one at most as OpenAI allows) and `function`; OpenAI's
`code_interpreter` is not served here and is a 400 naming it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_INSTRUCTIONS = 256_000  # characters, OpenAI's limit
MAX_TOOLS = 128


class FunctionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = Field(None, max_length=1024)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class AssistantTool(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    function: FunctionSpec | None = None
    file_search: dict[str, Any] | None = None  # OpenAI's options (max_num_results, ranking_options)

    @model_validator(mode="after")
    def _known(self) -> AssistantTool:
        if self.type not in ("file_search", "function"):
            raise ValueError(f"tool type {self.type!r} is not served here (file_search and function are)")
        if self.type == "function" and self.function is None:
            raise ValueError("a function tool needs its `function`")
        return self


class FileSearchResources(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vector_store_ids: list[str] = Field(default_factory=list, max_length=1)


class ToolResources(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file_search: FileSearchResources | None = None


class AssistantFields(BaseModel):
    """What a client sets: every field optional (an update names only what changes)."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, min_length=1, max_length=200)
    name: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=512)
    instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS)
    tools: list[AssistantTool] | None = Field(None, max_length=MAX_TOOLS)
    tool_resources: ToolResources | None = None
    metadata: dict[str, str] | None = Field(None, max_length=16)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    response_format: Any = None
    conversation_starters: list[str] | None = Field(None, max_length=8)
    avatar_file_id: str | None = Field(None, max_length=64)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key, item in (value or {}).items():
            if len(key) > 64 or len(item) > 512:
                raise ValueError("metadata keys are at most 64 characters and values at most 512")
        return value

    @field_validator("conversation_starters")
    @classmethod
    def _starters(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not 0 < len(s) <= 500 for s in value):
            raise ValueError("each conversation starter has 1 to 500 characters")
        return value


class AssistantCreate(AssistantFields):
    model: str = Field(min_length=1, max_length=200)  # type: ignore[assignment]


class Assistant(BaseModel):
    id: str
    object: Literal["assistant"] = "assistant"
    created_at: int
    name: str | None = None
    description: str | None = None
    model: str
    instructions: str | None = None
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_resources: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    response_format: Any = "auto"
    conversation_starters: list[str] = Field(default_factory=list)
    avatar_file_id: str | None = None
    workspace_id: str | None = None  # set for a workspace's assistant (its members use it)

    def vector_store_ids(self) -> list[str]:
        ids = (self.tool_resources.get("file_search") or {}).get("vector_store_ids") or []
        return [str(i) for i in ids]


class AssistantList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Assistant]
    first_id: str | None
    last_id: str | None
    has_more: bool


class AssistantDeleted(BaseModel):
    id: str
    object: Literal["assistant.deleted"] = "assistant.deleted"
    deleted: bool = True
