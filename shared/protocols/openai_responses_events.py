"""OpenAI's Responses stream: typed events, each with its `sequence_number`, from the chat door's deltas.

The sequence is OpenAI's: `response.created`, `response.in_progress`; for the answer's text a `message`
item (`response.output_item.added`, `response.content_part.added`, `response.output_text.delta`...,
`response.output_text.done`, `response.content_part.done`, `response.output_item.done`); for each tool call
a `function_call` item (`response.output_item.added` with the call id and name,
`response.function_call_arguments.delta`... in the order the provider sent the fragments,
`response.function_call_arguments.done`, `response.output_item.done`); then `response.completed`
(with usage and the charge), `response.incomplete` (cut by the output limit) or `response.failed` (a
provider error after some output). Input comes as the chat door's deltas (OpenAI's chat shape: `content`,
`tool_calls` fragments with `index`, the `id` and `name` on a call's first fragment).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from shared.chat.schemas import CallResult
from shared.protocols import openai_responses_response as shape

log = logging.getLogger("protocols.responses")

FINAL_EVENTS = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}


class ResponseEvents:
    """Turns one chat stream's deltas into the Responses API's events; one instance per stream."""

    def __init__(self, resp_id: str, created_at: int, model: str, echo: shape.Echo) -> None:
        self.id = resp_id
        self.created_at = created_at
        self.model = model
        self.echo = echo
        self._seq = 0
        self._items: list[dict[str, Any]] = []  # output items so far, by output_index
        self._open: int | None = None  # the output_index of the item still receiving deltas
        self._tools: dict[int, int] = {}  # the provider's tool call index -> output_index

    def event(self, kind: str, payload: dict[str, Any]) -> bytes:
        body = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        return f"event: {kind}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode()

    def start(self) -> list[bytes]:
        head = shape.head(self.id, self.created_at, self.model, self.echo, "in_progress")
        return [
            self.event("response.created", {"response": head}),
            self.event("response.in_progress", {"response": head}),
        ]

    def delta(self, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        text = delta.get("content")
        if text:
            if self._open is None or self._items[self._open]["type"] != "message":
                out += self._open_message()
            item = self._items[self._open]  # type: ignore[index]
            item["content"][0]["text"] += text
            out.append(
                self.event(
                    "response.output_text.delta",
                    {**self._where(), "content_index": 0, "delta": text, "logprobs": []},
                )
            )
        for fragment in delta.get("tool_calls") or []:
            out += self._tool_fragment(fragment)
        return out

    def finish(self, result: CallResult) -> list[bytes]:
        """Close what is open, then the final event with the whole Response (usage and credits in it)."""
        cited = shape.file_annotations(result)
        if cited and self._open is not None and self._items[self._open]["type"] == "message":
            self._items[self._open]["content"][0]["annotations"] = cited
        out = self._close()
        body = shape.response(result, self.echo)
        return [*out, self.event(FINAL_EVENTS[body["status"]], {"response": body})]

    def _where(self) -> dict[str, Any]:
        index = self._open
        assert index is not None
        return {"item_id": self._items[index]["id"], "output_index": index}

    def _open_message(self) -> list[bytes]:
        out = self._close()
        item = shape.text_item(self.id, "", "in_progress")
        messages = sum(1 for i in self._items if i["type"] == "message")
        if messages:  # text again after a tool call: a message item of its own
            item["id"] = f"{item['id']}_{messages}"
        item["content"] = []
        out.append(self._add(item))
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        item["content"].append(dict(part))
        out.append(
            self.event("response.content_part.added", {**self._where(), "content_index": 0, "part": part})
        )
        return out

    def _tool_fragment(self, fragment: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        index = int(fragment.get("index", 0))
        function = fragment.get("function") or {}
        if index not in self._tools:
            out += self._close()
            call_id = shape.call_id_of(self.id, fragment.get("id"), index)
            item = shape.call_item(self.id, call_id, function.get("name") or "", "", "in_progress")
            out.append(self._add(item))
            self._tools[index] = self._open  # type: ignore[assignment]
        elif self._tools[index] != self._open:
            # A fragment of a call already closed (another item began): providers send each call's
            # fragments together; the final response carries every call whole.
            log.warning("interleaved tool call fragment not streamed", extra={"tool_index": index})
            return out
        arguments = function.get("arguments")
        if arguments:
            self._items[self._tools[index]]["arguments"] += arguments
            out.append(
                self.event("response.function_call_arguments.delta", {**self._where(), "delta": arguments})
            )
        return out

    def _add(self, item: dict[str, Any]) -> bytes:
        self._items.append(item)
        self._open = len(self._items) - 1
        return self.event("response.output_item.added", {"output_index": self._open, "item": item})

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        item = self._items[self._open]
        where = self._where()
        out: list[bytes] = []
        if item["type"] == "message":
            part = item["content"][0]
            out.append(
                self.event(
                    "response.output_text.done",
                    {**where, "content_index": 0, "text": part["text"], "logprobs": []},
                )
            )
            out.append(self.event("response.content_part.done", {**where, "content_index": 0, "part": part}))
        else:
            done = {**where, "name": item["name"], "arguments": item["arguments"]}
            out.append(self.event("response.function_call_arguments.done", done))
        item["status"] = "completed"
        out.append(self.event("response.output_item.done", {"output_index": self._open, "item": item}))
        self._open = None
        return out
