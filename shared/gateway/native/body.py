"""The request body of a native call, built as litellm would send it to an OpenAI-wire provider."""

from __future__ import annotations

from typing import Any

import orjson

from shared.gateway.native.wire import Wire
from shared.gateway.types import PASSTHROUGH, TOOL_PARAMS


def request_body(
    wire: Wire, messages: list[dict[str, Any]], max_tokens: int, params: dict[str, Any], stream: bool
) -> dict[str, Any]:
    """The JSON body: the model, the messages, the output limit, the client's parameters the model
    accepts (others are dropped, as litellm's drop_params does), tools, and for a stream the usage chunk."""
    body: dict[str, Any] = {
        "model": wire.model,
        "messages": _without_cache_control(messages) if wire.strip_cache_control else messages,
    }
    limit = "max_tokens" if "max_tokens" in wire.supported else "max_completion_tokens"
    body[limit] = max_tokens
    for name in PASSTHROUGH:
        value = params.get(name)
        if value is not None and name in wire.supported:
            body[name] = value
    for name in TOOL_PARAMS:
        value = params.get(name)
        if value is not None and name in wire.supported:
            body[name] = _without_cache_control(value) if wire.strip_cache_control else value
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def without_unprocessable(body: dict[str, Any], error: bytes) -> dict[str, Any]:
    """The body without the parameters a 422 answer names (a FastAPI-style `detail` list, as vLLM sends):
    litellm (drop_params) sends the request once more without them."""
    try:
        message = orjson.loads(error).get("error", {}).get("message")
        detail = (orjson.loads(message) if isinstance(message, str) else message or {}).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        return body
    names = set()
    for item in detail if isinstance(detail, list) else ():
        loc = item.get("loc") if isinstance(item, dict) else None
        if isinstance(loc, list) and len(loc) == 2:
            names.add(loc[1])
    return {k: v for k, v in body.items() if k not in names}


def _without_cache_control(value: Any) -> Any:
    """`value` with every `cache_control` key removed (copied only where one is found)."""
    if isinstance(value, list):
        return [_without_cache_control(v) for v in value]
    if isinstance(value, dict):
        if not _has_cache_control(value):
            return value
        return {k: _without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    return value


def _has_cache_control(value: Any) -> bool:
    if isinstance(value, dict):
        return "cache_control" in value or any(_has_cache_control(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_cache_control(v) for v in value)
    return False
