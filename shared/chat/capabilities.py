"""What a request needs of the model serving it (the catalog's `capabilities`), checked before any hold.

A model that lacks one answers 400 `<capability>_not_supported` (`tools_not_supported`, ...) before
anything is reserved, and a fallback that lacks one is left out of the chain (shared/chat/chain.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shared.catalog.catalog import Catalog, ModelSpec
from shared.errors import BadRequest

WHAT = {
    "tools": "tool calling (tools, tool_choice, functions, tool messages)",
    "parallel_tool_calls": "parallel tool calls (parallel_tool_calls: true)",
}


def supports_all(spec: ModelSpec, needs: Iterable[str]) -> bool:
    return all(spec.supports(name) for name in needs)


def ensure_supported(spec: ModelSpec, needs: Iterable[str]) -> None:
    for name in sorted(needs):
        if not spec.supports(name):
            raise BadRequest(
                f"{spec.id} does not support {WHAT.get(name, name)}; pick a model whose capabilities "
                f"(GET /v1/models) include '{name}'.",
                code=f"{name}_not_supported",
            )


def usable(catalog: Catalog, allowed: Callable[[str], bool], needs: frozenset[str]) -> Callable[[str], bool]:
    """`allowed` narrowed to the models that have every needed capability (for `auto`)."""
    if not needs:
        return allowed

    def ok(model_id: str) -> bool:
        spec = catalog.find(model_id)
        return allowed(model_id) and spec is not None and supports_all(spec, needs)

    return ok
