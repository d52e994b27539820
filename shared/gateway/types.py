"""What the gateway takes and returns: plain data, no provider SDK objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.catalog.catalog import Deployment, ModelSpec

# Sampling and output parameters passed through unchanged when the client sets them (shared/chat/params.py
# checks them and that the model supports them first).
PASSTHROUGH = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
    "response_format",
    "logprobs",
    "top_logprobs",
    "logit_bias",
)
# Tool calling (shared/chat/tools.py checked them); litellm translates them for each provider.
TOOL_PARAMS = ("tools", "tool_choice", "parallel_tool_calls")


@dataclass
class Usage:
    input_tokens: int  # all prompt tokens, cached ones included
    output_tokens: int
    reported: bool  # False when estimated here because the provider never said (a cut stream)
    cache_read_tokens: int = 0  # prompt tokens the provider read from its prompt cache
    cache_write_tokens: int = 0  # prompt tokens the provider wrote to its prompt cache

    def cost(self, spec: ModelSpec) -> int:
        """Credits at `spec`'s prices: uncached input, cache reads and writes at their own rates."""
        uncached = max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)
        return spec.cost(uncached, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens)


@dataclass(frozen=True)
class Candidate:
    """One model of a request's chain, with the output limit it is called with."""

    spec: ModelSpec
    max_tokens: int
    input_tokens: int = 0  # the prompt estimate at this model's tokenizer (for TPM limits)


@dataclass(frozen=True)
class Served:
    """Which model and deployment answered, and how many attempts it took in all."""

    spec: ModelSpec
    deployment: Deployment
    attempts: int = 1
    # Seconds spent on providers until the answer (a stream: its first delta): every attempt and the
    # waits between them. The rest of a call's time before its first byte is ours (gateway overhead).
    waited_s: float = 0.0


@dataclass(frozen=True)
class ToolCall:
    """One function call of an answer, whole."""

    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a streamed tool call, as the provider sent it: `id` and `name` come on the call's
    first piece, argument fragments on it and the pieces after it."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class Completion:
    text: str
    finish_reason: str | None
    usage: Usage
    served: Served | None = field(default=None)
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: dict[str, Any] | None = None  # the choice's logprobs when the client asked for them


@dataclass(frozen=True)
class Answer:
    """A whole (non-streamed) answer as a lane read it; `usage` None when the provider did not report it."""

    text: str
    finish_reason: str | None
    tool_calls: tuple[ToolCall, ...]
    usage: Usage | None
    logprobs: dict[str, Any] | None


@dataclass
class Delta:
    text: str
    finish_reason: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    logprobs: dict[str, Any] | None = None  # this chunk's logprobs when the client asked for them


class ProviderBound(Protocol):
    """A media model (image, video, speech to text) as the catalog resolved it against its provider."""

    @property
    def api_base(self) -> str | None: ...

    @property
    def api_key(self) -> str | None: ...

    @property
    def params(self) -> tuple[tuple[str, str], ...]: ...


def provider_args(model: ProviderBound) -> dict[str, Any]:
    """litellm's arguments that point a media call at the model's provider: its extra parameters (Vertex
    project and region), and its api_base and key when it has them."""
    args: dict[str, Any] = dict(model.params)
    if model.api_base:
        args["api_base"] = model.api_base
    if model.api_key:
        args["api_key"] = model.api_key
    return args
