"""Token counts without importing litellm: tiktoken's cl100k_base, read from the copy bundled in litellm's
package folder (found without importing litellm; tiktoken alone would fetch it from the network).

The counts are litellm 1.106.2's `token_counter` to the token (tests/unit/test_tokenizer_parity.py):
for a model named with a provider prefix (`openai/…`, `xai/…`: never one of the bare names litellm
lists as OpenAI or Azure models) litellm counts with cl100k_base, 3 tokens per message and 1 per
`name`, encodes in 1,024-character chunks, and renders tool definitions as the TypeScript-like
namespace OpenAI's models read. Anything else, and any message shape this file does not know (images,
files, Anthropic blocks), is counted by litellm itself: the first such count imports it.

Providers' tokenizers differ; their reported counts are what is charged. These are estimates for the
hold, the rate limits and a cut stream's charge, and chunking's sizes (shared/knowledge/chunking.py).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from shared.gateway.lazy import litellm


class Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: tuple[str, ...] = ()) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...


# tiktoken's cl100k_base: its file as litellm bundles it (named by the sha1 of tiktoken's download URL,
# tiktoken's cache key), the file's sha256 (tiktoken's expected hash), its split pattern and specials.
_CL100K_FILE = "litellm_core_utils/tokenizers/9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|"""
    r"""\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}

# litellm's counting constants (1.106.2 defaults). Either set in the environment changes litellm's
# counts, so then litellm counts.
_CHUNK_CHARS = 1024  # TIKTOKEN_ENCODE_CHUNK_SIZE_CHARS
_MAX_EXACT_CHARS = 4_000_000  # TOKEN_COUNTER_MAX_EXACT_CHARS: longer texts are sampled; litellm does it
_LITELLM_KNOBS = ("TIKTOKEN_ENCODE_CHUNK_SIZE_CHARS", "TOKEN_COUNTER_MAX_EXACT_CHARS")

# Provider prefixes that no name in litellm's OpenAI, Azure, Anthropic or Cohere model lists starts with
# (the parity test checks it), so litellm's counter takes its default path for `prefix/…`.
PREFIXES = frozenset(
    {
        "openai",
        "xai",
        "deepseek",
        "openrouter",
        "groq",
        "together_ai",
        "fireworks_ai",
        "gemini",
        "vertex_ai",
        "mistral",
        "hosted_vllm",
    }
)
# Names litellm gives another tokenizer (HuggingFace's llama, Anthropic's, Cohere's), lower-cased.
_OTHER_TOKENIZERS = ("llama-2", "llama-3", "replicate", "claude", "command-r")

_PER_MESSAGE = 3
_PER_NAME = 1
_REPLY_PRIMER = 3  # every reply starts with <|start|>assistant<|message|>
_PER_TOOLS = 9
_TOOLS_WITH_SYSTEM = -4


class _Unsupported(Exception):
    """A message shape this file does not count: litellm counts the whole call instead."""


# What sends a count to litellm: a shape we do not count, or a malformed tool schema.
_FALL_BACK = (_Unsupported, KeyError, AttributeError, TypeError, ValueError)


def bpe_path() -> Path:
    """The bundled cl100k_base file, from litellm's installed package folder (not imported)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        raise RuntimeError("litellm is not installed: its bundled cl100k_base file is missing")
    return Path(spec.origin).parent / _CL100K_FILE


@cache
def text_encoding() -> Encoding:
    """cl100k_base, built once from the bundled file (its hash checked); never from the network."""
    import tiktoken

    data = bpe_path().read_bytes()
    if hashlib.sha256(data).hexdigest() != _CL100K_SHA256:
        raise RuntimeError(f"{bpe_path()} is not tiktoken's cl100k_base (hash mismatch)")
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        "cl100k_base", pat_str=_CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=_CL100K_SPECIAL
    )


def counts_alone(model: str) -> bool:
    """Whether this file counts for `model` exactly as litellm would, without it."""
    if any(knob in os.environ for knob in _LITELLM_KNOBS):
        return False
    lower = model.lower()
    if any(name in lower for name in _OTHER_TOKENIZERS):
        return False
    prefix, slash, _ = model.partition("/")
    return model == "" or (bool(slash) and prefix in PREFIXES)


def _count(text: str) -> int:
    if len(text) > _MAX_EXACT_CHARS:
        raise _Unsupported("long text: litellm samples it")
    encoding = text_encoding()
    return sum(
        len(encoding.encode(text[i : i + _CHUNK_CHARS], disallowed_special=()))
        for i in range(0, len(text), _CHUNK_CHARS)
    )


def count_text(model: str, text: str) -> int:
    """`litellm.token_counter(model=model, text=text, count_response_tokens=True)`."""
    if counts_alone(model):
        try:
            return _count(text)
        except _FALL_BACK:
            pass
    return int(litellm().token_counter(model=model, text=text, count_response_tokens=True))


def count_messages(
    model: str, messages: Sequence[Mapping[str, Any]], tools: list[dict[str, Any]] | None = None
) -> int:
    """`litellm.token_counter(model=model, messages=messages, tools=tools or None)`."""
    if counts_alone(model):
        try:
            return _count_messages(messages, tools or None)
        except _FALL_BACK:
            pass  # litellm counts it, or raises its own error for the same input
    return int(litellm().token_counter(model=model, messages=messages, tools=tools or None))


def _count_messages(messages: Sequence[Mapping[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    total = _REPLY_PRIMER
    for message in messages:
        if not isinstance(message, dict):
            raise _Unsupported("a message object")
        total += _PER_MESSAGE + sum(_field(key, value) for key, value in message.items())
    if tools:
        total += _count(_namespace(tools)) + _PER_TOOLS
        if any(message.get("role") == "system" for message in messages):
            total += _TOOLS_WITH_SYSTEM
    return total


def _field(key: str, value: Any) -> int:
    if value is None:
        return 0
    if key == "tool_calls":
        if not isinstance(value, list) or not all(isinstance(c, dict) and "function" in c for c in value):
            raise _Unsupported("malformed tool calls")  # litellm raises its own error for these
        return sum(_count(str(call["function"].get("arguments", ""))) for call in value)
    if key == "function_call":
        if not isinstance(value, Mapping):
            raise _Unsupported("malformed function call")
        return _count(str(value.get("arguments", "")))
    if isinstance(value, str):
        return _count(value) + (_PER_NAME if key == "name" else 0)
    if key == "content" and isinstance(value, list):
        return sum(_part(part) for part in value)
    if key == "search_results":
        raise _Unsupported("search results")
    return 0  # other keys are not counted


def _part(part: Any) -> int:
    if isinstance(part, str):
        return _count(part)
    if not isinstance(part, dict):
        raise _Unsupported("a content part object")
    kind = part.get("type")
    if kind == "text":
        return _count(str(part.get("text", "")))
    if kind in ("thinking", "redacted_thinking"):
        return _count(str(part.get("thinking", "")))
    if kind == "tool_reference":
        return _count(str(part.get("tool_name") or ""))
    raise _Unsupported(f"a {kind!r} part")  # images, files, documents, Anthropic's tool blocks


def _namespace(tools: list[dict[str, Any]]) -> str:
    """The tool definitions as the TypeScript-like declarations OpenAI's models are shown."""
    lines = ["namespace functions {", ""]
    for tool in tools:
        if isinstance(tool, Mapping):
            for function in _functions(tool):
                lines.extend(_declaration(function))
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _functions(tool: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A tool's functions: OpenAI's `function`, Gemini's declarations, or Anthropic's flat tool."""
    if isinstance(tool.get("function"), Mapping):
        return [tool["function"]]
    declarations = tool.get("function_declarations") or tool.get("functionDeclarations")
    if isinstance(declarations, list):
        return [d for d in declarations if isinstance(d, Mapping)]
    schema = tool.get("input_schema") or tool.get("parameters") or {}
    return [
        {
            "name": tool.get("name"),
            "description": tool.get("description"),
            "parameters": schema if isinstance(schema, Mapping) else {},
        }
    ]


def _declaration(function: Mapping[str, Any]) -> list[str]:
    name = function.get("name")
    if not name:
        return []
    description = function.get("description")
    lines = [f"// {description}"] if description else []
    schema = function.get("parameters") or {}
    schema = schema if isinstance(schema, Mapping) else {}
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and properties:
        lines += [f"type {name} = (_: {{", _object_fields(schema, 0), "}) => any;"]
    else:
        lines.append(f"type {name} = () => any;")
    return [*lines, ""]


def _object_fields(schema: Mapping[str, Any], indent: int) -> str:
    properties = schema.get("properties")
    if not properties:
        return ""
    required = schema.get("required", [])
    lines = []
    for key, field in properties.items():
        if field.get("description"):
            lines.append(f"// {field['description']}")
        optional = "" if required and key in required else "?"
        lines.append(f"{key}{optional}: {_type(field, indent)},")
    return "\n".join(" " * max(0, indent) + line for line in lines)


def _type(field: Mapping[str, Any], indent: int) -> str:
    kind = field.get("type")
    if kind in ("string", "integer", "number") and "enum" in field:
        return " | ".join(f'"{item}"' for item in field["enum"])
    if kind == "array":
        return f"{_type(field['items'], indent)}[]"
    if kind == "object":
        return f"{{\n{_object_fields(field, indent + 2)}\n}}"
    return {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}.get(
        str(kind) if kind is not None else "", "null" if kind == "null" else "any"
    )
