"""The jobs worker refuses to start in production without its OIDC settings (issue 11, item 12): the module
does not load, and the error names the setting. Local runs and tests, which have no tokens, are unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.adapters.oidc import MissingOidcSettings, OidcVerifier, require_jobs_oidc
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "https://us-central1-demo.cloudfunctions.net/jobs-worker"
TASKS_SA = "tasks-invoker@demo.iam.gserviceaccount.com"


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "production",
        "jobs_oidc_audience": AUDIENCE,
        "tasks_service_account": TASKS_SA,
        **overrides,
    }
    return Settings().model_copy(update=values)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"jobs_oidc_audience": None}, "JOBS_OIDC_AUDIENCE"),
        ({"jobs_oidc_audience": ""}, "JOBS_OIDC_AUDIENCE"),
        ({"tasks_service_account": None}, "TASKS_SERVICE_ACCOUNT"),
    ],
)
def test_production_without_the_oidc_settings_is_refused(overrides: dict[str, object], named: str) -> None:
    settings = production(**overrides)
    with pytest.raises(MissingOidcSettings, match=named):
        require_jobs_oidc(settings)
    with pytest.raises(MissingOidcSettings, match=named):
        OidcVerifier.for_jobs(settings)


def test_production_with_the_oidc_settings_checks_tokens() -> None:
    verifier = OidcVerifier.for_jobs(production())
    assert verifier.enabled and verifier.audience == AUDIENCE


@pytest.mark.parametrize("environment", ["local", "test"])
def test_local_runs_and_tests_start_without_them(environment: str) -> None:
    settings = Settings().model_copy(
        update={"environment": environment, "jobs_oidc_audience": None, "tasks_service_account": None}
    )
    assert not OidcVerifier.for_jobs(settings).enabled


def _import_worker(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("JOBS_OIDC_AUDIENCE", "TASKS_SERVICE_ACCOUNT")}
    return subprocess.run(
        [sys.executable, "-c", "import functions.jobs.main"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_worker_module_does_not_load_in_production_without_its_audience() -> None:
    refused = _import_worker(ENVIRONMENT="production", TASKS_SERVICE_ACCOUNT=TASKS_SA)
    assert refused.returncode != 0
    assert "MissingOidcSettings" in refused.stderr
    assert "JOBS_OIDC_AUDIENCE must be set in production" in refused.stderr
    configured = {"JOBS_OIDC_AUDIENCE": AUDIENCE, "TASKS_SERVICE_ACCOUNT": TASKS_SA}
    started = _import_worker(ENVIRONMENT="production", **configured)
    assert started.returncode == 0, started.stderr
    local = _import_worker(ENVIRONMENT="local")
    assert local.returncode == 0, local.stderr
