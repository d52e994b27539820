"""Reading and rewriting the text of chat messages in OpenAI's shape.

`content` is a string, null (an assistant turn with only tool calls), or a list of parts of which the
`{"type": "text", "text": ...}` ones carry text (also the Responses API's `input_text`/`output_text`
parts, and Anthropic's text blocks, which have the same shape); other parts (images, audio, files)
pass through. The
input is never modified: a message with changed text is a shallow copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of text: message `index`, `part` (None for a string content), the role and the text."""

    index: int
    part: int | None
    role: str
    text: str


def segments(messages: Sequence[Mapping[str, Any]]) -> list[Segment]:
    out: list[Segment] = []
    for i, message in enumerate(messages):
        role = str(message.get("role", ""))
        content = message.get("content")
        if isinstance(content, str):
            out.append(Segment(i, None, role, content))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if (
                    isinstance(part, Mapping)
                    and part.get("type") in _TEXT_PARTS
                    and isinstance(part.get("text"), str)
                ):
                    out.append(Segment(i, j, role, part["text"]))
    return out


def replaced(
    messages: Sequence[Mapping[str, Any]], changes: Mapping[tuple[int, int | None], str]
) -> list[Any]:
    """The messages with the text at each (index, part) replaced; unchanged messages are the same objects."""
    out: list[Any] = list(messages)
    by_message: dict[int, dict[int | None, str]] = {}
    for (index, part), text in changes.items():
        by_message.setdefault(index, {})[part] = text
    for index, parts in by_message.items():
        message = dict(messages[index])
        if None in parts:
            message["content"] = parts[None]
        else:
            content = list(message["content"])
            for j, text in parts.items():
                assert j is not None
                content[j] = {**content[j], "text": text}
            message["content"] = content
        out[index] = message
    return out
