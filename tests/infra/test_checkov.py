"""checkov over terraform/ (its own venv, see scripts/infra_tools.py): every finding must be listed, with a
reason, in terraform/checkov-accepted.yaml, and every listed entry must still match a finding. checkov has
no checks for Cloud Run v2 IAM, Cloud Tasks, Firestore or Secret Manager: test_policies.py covers those."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest
import yaml

from scripts.infra_tools import checkov_scan
from tests.infra.tfconfig import TERRAFORM

ACCEPTED = TERRAFORM / "checkov-accepted.yaml"


def findings(report: Any) -> list[tuple[str, str, str]]:
    """(check id, resource address, file) of every failed check in checkov's JSON report."""
    reports = report if isinstance(report, list) else [report]
    return sorted(
        (f["check_id"], f["resource"], f["file_path"])
        for r in reports
        for f in r.get("results", {}).get("failed_checks", [])
    )


def compare(found: list[tuple[str, str, str]], accepted: list[dict[str, str]]) -> list[str]:
    """Problems: findings no entry accepts, entries without a reason, entries matching no finding."""

    def matches(entry: dict[str, str], finding: tuple[str, str, str]) -> bool:
        return entry["check"] == finding[0] and fnmatchcase(finding[1], entry["resource"])

    problems = [
        f"checkov {check} on {resource} ({path}): fix it, or accept it in {ACCEPTED.name} with a reason"
        for check, resource, path in found
        if not any(matches(e, (check, resource, path)) for e in accepted)
    ]
    for entry in accepted:
        if not str(entry.get("reason", "")).strip():
            problems.append(f"{ACCEPTED.name}: {entry['check']} {entry['resource']} needs a reason")
        if not any(matches(entry, f) for f in found):
            name = f"{entry['check']} {entry['resource']}"
            problems.append(f"{ACCEPTED.name}: {name} matches nothing: remove it")
    return problems


@pytest.fixture(scope="module")
def report() -> Any:
    result = checkov_scan(TERRAFORM)
    error = result.stderr[-2000:]
    assert result.stdout.strip(), f"checkov printed no report (exit {result.returncode}): {error}"
    return json.loads(result.stdout)


def test_checkov_parses_the_whole_configuration(report):
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 50, summary
    assert summary["passed"] > 0


def test_checkov_findings_are_all_accepted(report):
    accepted = yaml.safe_load(ACCEPTED.read_text())["accepted"]
    assert compare(findings(report), accepted) == []


def test_an_unaccepted_finding_and_a_stale_entry_are_reported():
    found = [("CKV_GCP_29", "module.platform.module.media_bucket.google_storage_bucket.this", "/x.tf")]
    accepted = [
        {"check": "CKV_GCP_62", "resource": "module.platform.module.*_bucket.google_storage_bucket.this"},
    ]
    problems = "\n".join(compare(found, accepted))
    assert "checkov CKV_GCP_29 on module.platform.module.media_bucket" in problems
    assert "CKV_GCP_62 module.platform.module.*_bucket.google_storage_bucket.this needs a reason" in problems
    assert "matches nothing: remove it" in problems
