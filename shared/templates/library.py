"""The built-in library: shared/templates/library/<language>.toml, the same keys in every language,
read once per process. A built-in's id is `tpl_<key>_<language>`; nobody edits or deletes one."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from shared.templates.render import placeholders
from shared.templates.schemas import Template, Variable

LIBRARY = Path(__file__).parent / "library"


@lru_cache(maxsize=1)
def builtins() -> dict[str, Template]:
    out: dict[str, Template] = {}
    for path in sorted(LIBRARY.glob("*.toml")):
        language = path.stem
        for key, raw in tomllib.loads(path.read_text(encoding="utf-8"))["templates"].items():
            described: dict[str, str] = raw.get("variables", {})
            template = Template(
                id=f"tpl_{key}_{language}",
                name=raw["name"],
                category=raw["category"],
                language=language,
                body=raw["body"],
                variables=[
                    Variable(name=n, description=described.get(n, "")) for n in placeholders(raw["body"])
                ],
                owner="builtin",
            )
            out[template.id] = template
    return out
