"""OpenAI's Responses request (`POST /v1/responses`), validated, and translated into the chat completions
request every door shares, so a call costs the same whichever door it came through.

Translated: `input` (a string, or items: messages with role user / assistant / system / developer and
`input_text` / `input_image` / `input_file` / `output_text` / `refusal` parts, `function_call` and
`function_call_output` items), `instructions` (a system message first; never carried over by
`previous_response_id`, as OpenAI does), `tools` of type `function` (Responses' flat shape), `tool_choice`,
`parallel_tool_calls`, `max_output_tokens`, `temperature`, `top_p`, `text.format` (`json_schema`,
`json_object`, `text`) as `response_format`, `user`. `metadata` and `store` stay with us.

Ignored safely: `reasoning` items in the history (we produce none; the SDK sends back what it received),
`include`, `reasoning`, `truncation`, `service_tier`, `prompt_cache_key`, `safety_identifier`,
`stream_options`, `text.verbosity`, an item's `id` and `status`. Refused with 400 naming what: tools OpenAI
hosts (web search, file search, code interpreter, computer use, image generation, MCP, shell, ...),
item and part types we cannot translate, files and images by `file_id`, `background`, `conversation`,
`prompt`, and a `function_call_output` whose `call_id` matches no `function_call` before it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BadRequest

# Reasoning items carry nothing our models read back (we never produce them).
IGNORED_ITEMS = frozenset({"reasoning"})
# Top-level fields that change what OpenAI would do in ways we cannot honour.
REFUSED_FIELDS = ("background", "conversation", "prompt", "top_logprobs", "max_tool_calls")
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


class Item(BaseModel):
    """One input item; only `type` and `role` are read up front, the rest by the translation of its type.
    A message may leave `type` out (OpenAI's "easy" input message)."""

    model_config = ConfigDict(extra="allow")
    type: str | None = None
    role: str | None = None


class FunctionTool(BaseModel):
    """A tool in Responses' flat shape; only `type: "function"` is served."""

    model_config = ConfigDict(extra="allow")
    type: str
    name: str | None = Field(None, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    format: dict[str, Any] | None = None
    verbosity: str | None = None


class ResponsesRequest(BaseModel):
    """`POST /v1/responses`. Unknown top-level fields are accepted and ignored (clients send fields before
    a gateway knows them); the ones we act on are typed here."""

    model_config = ConfigDict(extra="allow")
    model: str | None = Field(None, max_length=200)
    input: str | list[Item] = Field(min_length=1)
    instructions: str | None = None
    tools: list[FunctionTool] | None = Field(None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    text: TextConfig | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = Field(None, max_length=200)
    metadata: dict[str, str] | None = Field(None, max_length=16)
    user: str | None = Field(None, max_length=256)

    def check_refused(self) -> None:
        extra = self.model_extra or {}
        for name in REFUSED_FIELDS:
            if extra.get(name) not in (None, False):
                raise BadRequest(f"The parameter '{name}' is not supported.", code="unsupported_parameter")
        for key, value in (self.metadata or {}).items():
            if len(key) > 64 or len(value) > 512:
                raise BadRequest(
                    "metadata keys have at most 64 characters and values at most 512.",
                    code="invalid_metadata",
                )

    def items(self) -> list[dict[str, Any]]:
        """The input as items (a string is one user message), as they are stored and listed."""
        if isinstance(self.input, str):
            return [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": self.input}]}
            ]
        return [item.model_dump(exclude_none=True) for item in self.input]

    def to_chat(self, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The same call as a chat completions request body (validated again by that door's model).
        `history`: the items of the stored conversation `previous_response_id` continues (its inputs and
        outputs, oldest first)."""
        self.check_refused()
        messages = [{"role": "system", "content": self.instructions}] if self.instructions else []
        messages += conversation([*(history or []), *self.items()])
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": self.stream}
        if self.max_output_tokens is not None:
            body["max_tokens"] = self.max_output_tokens
        functions = [tool for tool in self.tools or [] if tool.type != "file_search"]
        if functions:
            body["tools"] = [_tool(tool) for tool in functions]
        stores = [s for t in self.tools or [] if t.type == "file_search" for s in _store_ids(t)]
        if stores:  # the file_search tool: answered from the caller's vector stores (chat's extension)
            body["vector_store_ids"] = list(dict.fromkeys(stores))
        if self.tool_choice is not None:
            body["tool_choice"] = _tool_choice(self.tool_choice, self.tools or [])
        if self.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = self.parallel_tool_calls
        for name in ("temperature", "top_p", "user"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        if self.text is not None and self.text.format is not None:
            response_format = _response_format(self.text.format)
            if response_format is not None:
                body["response_format"] = response_format
        return body


def conversation(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as chat messages. An assistant message and the function calls after it are one assistant turn
    (its `tool_calls`); every `function_call_output` must answer a `function_call` before it."""
    out: list[dict[str, Any]] = []
    calls: set[str] = set()
    for index, item in enumerate(items):
        at = f"input[{index}]"
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            out.append(_message(item, at))
        elif kind == "function_call":
            call = _function_call(item, at)
            calls.add(call["id"])
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            elif last is not None and last["role"] == "assistant" and isinstance(last["content"], str):
                last["tool_calls"] = [call]
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            out.append(_call_output(item, at, calls))
        elif kind not in IGNORED_ITEMS:
            raise BadRequest(
                f"{at} is an item of type '{kind}'; this API takes message, function_call and "
                "function_call_output items.",
                code="unsupported_item",
            )
    return out


def _message(item: dict[str, Any], at: str) -> dict[str, Any]:
    role = ROLES.get(str(item.get("role")))
    if role is None:
        raise BadRequest(
            f"{at}: a message's role is user, assistant, system or developer, not '{item.get('role')}'.",
            code="invalid_role",
        )
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise BadRequest(f"{at}: a message's content is a string or a list of parts.", code="invalid_content")
    if role == "assistant":
        return {
            "role": role,
            "content": "".join(_assistant_text(p, f"{at}.content[{i}]") for i, p in enumerate(content)),
        }
    parts = [_part(part, f"{at}.content[{i}]") for i, part in enumerate(content)]
    return {"role": role, "content": parts}


def _assistant_text(part: Any, at: str) -> str:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("output_text", "input_text"):
        return str(part.get("text") or "")
    if kind == "refusal":
        return str(part.get("refusal") or "")
    raise BadRequest(
        f"{at} is a '{kind}' part; an assistant message carries output_text and refusal parts.",
        code="unsupported_content",
    )


def _part(part: Any, at: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise BadRequest(
                f"{at}: an input_image needs an image_url (an https URL or a data: URL); images by file_id "
                "are not served.",
                code="invalid_image",
            )
        image: dict[str, Any] = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and isinstance(part.get("file_data"), str):
        file: dict[str, Any] = {"file_data": part["file_data"]}
        if isinstance(part.get("filename"), str):
            file["filename"] = part["filename"]
        return {"type": "file", "file": file}
    if kind == "input_file":
        raise BadRequest(f"{at}: an input_file needs file_data; files by file_id or URL are not served.")
    raise BadRequest(
        f"{at} is a '{kind}' part; a message takes input_text, input_image and input_file parts.",
        code="unsupported_content",
    )


def _function_call(item: dict[str, Any], at: str) -> dict[str, Any]:
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments", "")
    if (
        not isinstance(call_id, str)
        or not call_id
        or not isinstance(name, str)
        or not isinstance(arguments, str)
    ):
        raise BadRequest(
            f"{at}: a function_call item needs a string call_id, name and arguments.",
            code="invalid_function_call",
        )
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _call_output(item: dict[str, Any], at: str, calls: set[str]) -> dict[str, Any]:
    call_id = item.get("call_id")
    if call_id not in calls:
        raise BadRequest(
            f"{at}: call_id '{call_id}' answers no function_call item before it.", code="unknown_call_id"
        )
    output = item.get("output", "")
    if isinstance(output, list):  # text parts (OpenAI also allows images and files here)
        texts = []
        for part in output:
            if not isinstance(part, dict) or part.get("type") not in ("input_text", "output_text"):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise BadRequest(
                    f"{at}: a function_call_output carries text here, not '{kind}'.",
                    code="unsupported_content",
                )
            texts.append(str(part.get("text") or ""))
        output = "".join(texts)
    if not isinstance(output, str):
        raise BadRequest(f"{at}: a function_call_output's output is a string.", code="invalid_content")
    return {"role": "tool", "tool_call_id": call_id, "content": output}


def _store_ids(tool: FunctionTool) -> list[str]:
    ids = (tool.model_extra or {}).get("vector_store_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise BadRequest(
            "A file_search tool needs `vector_store_ids`: a list of your vector stores.", code="invalid_tool"
        )
    return ids


def _tool(tool: FunctionTool) -> dict[str, Any]:
    if tool.type != "function":
        raise BadRequest(
            f"The tool '{tool.type}' is one OpenAI hosts; this API does not host it. Define a function tool "
            "and run it yourself.",
            code="unsupported_tool",
        )
    if not tool.name:
        raise BadRequest("A function tool needs a name.", code="invalid_tool")
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: str | dict[str, Any], tools: list[FunctionTool]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise BadRequest(
                f"tool_choice '{choice}' is not none, auto or required.", code="invalid_tool_choice"
            )
        return choice
    kind = choice.get("type")
    if kind == "function":
        name = choice.get("name")
        if name not in {tool.name for tool in tools}:
            raise BadRequest(
                f"tool_choice names the tool '{name}', which is not in tools.", code="unknown_tool"
            )
        return {"type": "function", "function": {"name": name}}
    raise BadRequest(
        f"tool_choice of type '{kind}' is not served; use none, auto, required or a function.",
        code="unsupported_tool",
    )


def _response_format(spec: dict[str, Any]) -> dict[str, Any] | None:
    kind: Literal["text", "json_object", "json_schema"] | Any = spec.get("type")
    if kind == "text":
        return None  # the default: the provider is asked exactly as the chat door asks it
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {k: spec[k] for k in ("name", "schema", "strict", "description") if k in spec}
        return {"type": "json_schema", "json_schema": schema}
    raise BadRequest(
        f"text.format of type '{kind}' is not text, json_object or json_schema.", code="invalid_text_format"
    )
