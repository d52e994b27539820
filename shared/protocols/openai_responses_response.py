"""OpenAI's Response object, from what the chat door produced (a `CallResult`).

`output` holds at most one assistant `message` item (its text as one `output_text` part, `annotations`
empty) followed by one `function_call` item per tool call. `status` is `completed`, `incomplete` (the
output limit or a content filter cut it: `incomplete_details.reason` says which) or `failed` (a stream cut
by a provider error after some output; `error` says so). `usage` is OpenAI's (input, output and total
tokens with their details) plus what the call cost, as on the other doors: `credits` (the integer charged)
and `cost` (its USD price). Item ids derive from the response id and the call ids, so a replay, a stored
copy and a stream name the same items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.catalog.catalog import usd
from shared.chat.schemas import CallResult
from shared.ids import stable_id

DOOR_PATH = "/v1/responses"  # requests under it are answered in OpenAI's Responses shape (400 on bad bodies)


def response_id(chat_id: str) -> str:
    return "resp_" + chat_id.removeprefix("chatcmpl-")


def message_id(resp_id: str) -> str:
    return "msg_" + resp_id.removeprefix("resp_")


def call_id_of(resp_id: str, call_id: str | None, index: int) -> str:
    """The call's own id, or one derived from its position when a provider sent none."""
    return call_id or "call_" + stable_id(resp_id, "call", str(index))[:24]


def function_item_id(resp_id: str, call_id: str) -> str:
    return "fc_" + stable_id(resp_id, call_id)[:32]


@dataclass(frozen=True)
class Echo:
    """What the request set that the Response object repeats back."""

    instructions: str | None = None
    max_output_tokens: int | None = None
    previous_response_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    store: bool = True
    temperature: float | None = None
    top_p: float | None = None
    parallel_tool_calls: bool = True
    tool_choice: Any = "auto"
    tools: list[dict[str, Any]] = field(default_factory=list)
    text: dict[str, Any] = field(default_factory=lambda: {"format": {"type": "text"}})
    user: str | None = None


def status_of(finish_reason: str | None, failed: bool) -> tuple[str, dict[str, str] | None]:
    if failed:
        return "failed", None
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def usage(input_tokens: int, output_tokens: int, credits: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
        "credits": credits,
        "cost": usd(credits),
    }


def text_item(
    resp_id: str, text: str, status: str, annotations: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}
    return {
        "id": message_id(resp_id),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [part],
    }


def file_annotations(result: CallResult) -> list[dict[str, Any]]:
    """The file_search tool's citations in OpenAI's shape: each file the answer cites, at the place in the
    text where it cites it."""
    return [
        {
            "type": "file_citation",
            "file_id": c["file_id"],
            "filename": c["filename"],
            "index": max(0, result.content.find(c["marker"])),
        }
        for c in result.citations or []
    ]


def call_item(resp_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": function_item_id(resp_id, call_id),
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def output_items(resp_id: str, result: CallResult, item_status: str) -> list[dict[str, Any]]:
    out = (
        [text_item(resp_id, result.content, item_status, file_annotations(result))] if result.content else []
    )
    for index, call in enumerate(result.tool_calls or []):
        call_id = call_id_of(resp_id, call.id, index)
        out.append(call_item(resp_id, call_id, call.function.name, call.function.arguments, "completed"))
    return out


def head(resp_id: str, created_at: int, model: str, echo: Echo, status: str) -> dict[str, Any]:
    """The Response object before any output (the stream's `response.created`)."""
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": echo.instructions,
        "max_output_tokens": echo.max_output_tokens,
        "model": model,
        "output": [],
        "parallel_tool_calls": echo.parallel_tool_calls,
        "previous_response_id": echo.previous_response_id,
        "reasoning": {"effort": None, "summary": None},
        "store": echo.store,
        "temperature": echo.temperature,
        "text": echo.text,
        "tool_choice": echo.tool_choice,
        "tools": echo.tools,
        "top_p": echo.top_p,
        "truncation": "disabled",
        "usage": None,
        "user": echo.user,
        "metadata": echo.metadata,
    }


def response(result: CallResult, echo: Echo) -> dict[str, Any]:
    """The whole Response object of a finished call."""
    resp_id = response_id(result.id)
    status, incomplete = status_of(result.finish_reason, result.error is not None)
    body = head(resp_id, result.created, result.model, echo, status)
    item_status = "completed" if status == "completed" else "incomplete"
    body["output"] = output_items(resp_id, result, item_status)
    body["incomplete_details"] = incomplete
    if result.error is not None:
        body["error"] = {"code": "server_error", "message": result.error.get("message", "")}
    body["usage"] = usage(result.input_tokens, result.output_tokens, result.credits)
    body["provider"] = result.provider
    return body
