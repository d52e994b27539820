"""OpenAI's search filters on file attributes: a comparison `{type: eq|ne|gt|gte|lt|lte|in|nin, key,
value}` or a compound `{type: and|or, filters: [...]}`, nested at most MAX_DEPTH deep. A comparison with a
key the file lacks is false; `gt`/`lt` and the like compare numbers with numbers and strings with strings.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from shared.errors import BadRequest

MAX_DEPTH = 5
MAX_FILTERS = 50
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _bad(message: str) -> BadRequest:
    return BadRequest(f"filters: {message}", code="invalid_filter")


def check_filter(node: Any, depth: int = 0, seen: list[int] | None = None) -> None:
    """400 invalid_filter unless `node` is a filter this module can apply."""
    seen = seen if seen is not None else [0]
    seen[0] += 1
    if depth > MAX_DEPTH or seen[0] > MAX_FILTERS:
        raise _bad(f"at most {MAX_FILTERS} filters, nested at most {MAX_DEPTH} deep")
    if not isinstance(node, dict):
        raise _bad("each filter is an object")
    kind = node.get("type")
    if kind in ("and", "or"):
        children = node.get("filters")
        if not isinstance(children, list) or not children or set(node) - {"type", "filters"}:
            raise _bad(f"`{kind}` takes a non-empty list `filters`")
        for child in children:
            check_filter(child, depth + 1, seen)
        return
    if kind not in COMPARE and kind not in ("in", "nin"):
        raise _bad("`type` is one of eq, ne, gt, gte, lt, lte, in, nin, and, or")
    if set(node) != {"type", "key", "value"} or not isinstance(node["key"], str):
        raise _bad("a comparison has exactly `type`, `key` (a string) and `value`")
    value = node["value"]
    scalar = (str, int, float, bool)
    if kind in ("in", "nin"):
        if not isinstance(value, list) or not all(isinstance(v, scalar) for v in value):
            raise _bad(f"`{kind}` takes a list of strings, numbers or booleans")
    elif not isinstance(value, scalar):
        raise _bad("`value` is a string, a number or a boolean")


def matches(node: dict[str, Any], attributes: dict[str, Any]) -> bool:
    kind = node["type"]
    if kind == "and":
        return all(matches(child, attributes) for child in node["filters"])
    if kind == "or":
        return any(matches(child, attributes) for child in node["filters"])
    if node["key"] not in attributes:
        return False
    have, want = attributes[node["key"]], node["value"]
    if kind == "in":
        return have in want
    if kind == "nin":
        return have not in want
    if kind in ("eq", "ne"):
        return COMPARE[kind](have, want)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (have, want))
    if not numbers and not (isinstance(have, str) and isinstance(want, str)):
        return False
    return COMPARE[kind](have, want)
