"""What naming an assistant does to a call (chat completions' and thread messages' `assistant_id`): its
instructions go first as the system message, its model, temperature and top_p are used where the request
sets none, and its function tools are offered when the request brings no tools of its own. The caller's
own values always win; the thread keeps only what the user sent, never the instructions."""

from __future__ import annotations

from typing import Any

from shared.assistants.schemas import Assistant


def function_tools(assistant: Assistant) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": tool["function"]}
        for tool in assistant.tools
        if tool.get("type") == "function" and tool.get("function")
    ]


def with_instructions(assistant: Assistant, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not assistant.instructions:
        return messages
    return [{"role": "system", "content": assistant.instructions}, *messages]


def sampling_defaults(assistant: Assistant, params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for name in ("temperature", "top_p"):
        value = getattr(assistant, name)
        if value is not None and out.get(name) is None:
            out[name] = value
    return out
