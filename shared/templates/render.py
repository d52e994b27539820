"""Filling a template's `{{variables}}`: every placeholder needs a value and every value a placeholder;
either mistake is a 400 naming the variables, so a client sees exactly what to fix."""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.errors import BadRequest

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")
MAX_VALUE_CHARS = 100_000


def placeholders(body: str) -> list[str]:
    """The variables a body names, in order of first appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(body)))


def render(body: str, values: Mapping[str, object]) -> str:
    wanted = set(placeholders(body))
    missing = sorted(wanted - set(values))
    extra = sorted(set(values) - wanted)
    if missing:
        raise BadRequest(
            f"Give a value for {', '.join(missing)} (the template's variables: {', '.join(sorted(wanted))}).",
            code="missing_variables",
        )
    if extra:
        raise BadRequest(
            f"The template has no variable {', '.join(extra)}; its variables: {', '.join(sorted(wanted))}.",
            code="unknown_variables",
        )
    for name, value in values.items():
        if not isinstance(value, str):
            raise BadRequest(f"The value of {name} must be a string.", code="invalid_variable")
        if len(value) > MAX_VALUE_CHARS:
            raise BadRequest(
                f"The value of {name} is longer than {MAX_VALUE_CHARS} characters.", code="invalid_variable"
            )
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), body)
