"""What a request needs of the model serving it (the catalog's `capabilities`), checked before any hold.

The requested model must have them all, else a 400 naming what it lacks (`tools_not_supported`,
`images_not_supported`, ...) before anything is reserved; a fallback or an `auto` choice that lacks one
is never used for the request (shared/chat/chain.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shared.catalog.catalog import Catalog, ModelSpec
from shared.errors import BadRequest

# capability -> (error code, what the message calls it)
REFUSAL = {
    "tools": ("tools_not_supported", "tool calling (tools, tool_choice, functions, tool messages)"),
    "parallel_tool_calls": ("parallel_tool_calls_not_supported", "parallel tool calls"),
    "images": ("images_not_supported", "images"),
    "audio_in": ("audio_not_supported", "audio input"),
    "files": ("files_not_supported", "file inputs"),
    "response_format": ("response_format_not_supported", "response_format json_object"),
    "json_schema": ("response_format_not_supported", "response_format json_schema"),
    "logprobs": ("logprobs_not_supported", "logprobs / top_logprobs"),
}


def supports_all(spec: ModelSpec, needs: Iterable[str]) -> bool:
    return all(spec.supports(name) for name in needs)


def ensure_supported(spec: ModelSpec, needs: Iterable[str]) -> None:
    """Refuse (400) a model that lacks one of the capabilities the request needs."""
    for name in sorted(needs):
        if spec.supports(name):
            continue
        code, what = REFUSAL.get(name, (f"{name}_not_supported", name))
        raise BadRequest(
            f"The model '{spec.id}' does not accept {what}; GET /v1/models/{spec.id} lists its capabilities. "
            "Choose a model that does, or leave it out.",
            code=code,
        )


def usable(catalog: Catalog, allowed: Callable[[str], bool], needs: frozenset[str]) -> Callable[[str], bool]:
    """`allowed` narrowed to the models that have every needed capability (for `auto`)."""
    if not needs:
        return allowed

    def ok(model_id: str) -> bool:
        spec = catalog.find(model_id)
        return allowed(model_id) and spec is not None and supports_all(spec, needs)

    return ok
