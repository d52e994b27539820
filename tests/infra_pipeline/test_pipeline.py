"""cloudbuild.yaml names only files, make targets and images that exist or that an earlier step produces,
deploys the API without traffic and promotes it only after the smoke test; a tampered copy is caught.
The API image's Dockerfile and .dockerignore are checked here too. Plain pytest, no emulators."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest

from tests.infra_pipeline.cloudbuild_check import load, load_steps, problems

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "cloudbuild.yaml"
DOCKERFILE = ROOT / "run_services/api/Dockerfile"
IMAGE = "${_REGION}-docker.pkg.dev/$PROJECT_ID/ai-backend/api:$SHORT_SHA"


def test_the_pipeline_names_only_what_exists() -> None:
    assert problems(load(PIPELINE), ROOT) == []


def test_the_pipeline_builds_pushes_and_deploys_the_shared_image_name() -> None:
    text = PIPELINE.read_text()
    assert text.count(IMAGE) == 4  # build, push, deploy, images:
    config = load(PIPELINE)
    assert config["substitutions"]["_REGION"] == "us-central1"
    assert config["substitutions"]["_ENV"] in ("staging", "prod")
    assert config["serviceAccount"] == (
        "projects/$PROJECT_ID/serviceAccounts/cloudbuild-deployer@$PROJECT_ID.iam.gserviceaccount.com"
    )
    assert config["options"]["logging"] == "CLOUD_LOGGING_ONLY"


def test_traffic_moves_only_after_a_smoke_test_of_the_untrafficked_revision() -> None:
    steps = {s.id: s for s in load_steps(load(PIPELINE), [])}

    def step_running(*words: str) -> str:
        [found] = [s.id for s in steps.values() if any(c[: len(words)] == list(words) for c in s.commands)]
        return found

    deploy = step_running("gcloud", "run", "deploy", "api")
    [smoke] = [
        s.id for s in steps.values() if any(c[0] == "curl" and c[-1].endswith("/healthz") for c in s.commands)
    ]
    promote = step_running("gcloud", "run", "services", "update-traffic", "api")
    [deploy_argv] = steps[deploy].commands
    assert "--no-traffic" in deploy_argv and "--tag=rev-abc1234" in deploy_argv
    assert deploy in steps[smoke].after and smoke in steps[promote].after
    assert "test" in steps[deploy].after
    [promote_argv] = steps[promote].commands
    assert "--to-tags=rev-abc1234=100" in promote_argv


def test_every_function_is_deployed_after_the_tests() -> None:
    steps = load_steps(load(PIPELINE), [])
    deployed = {
        c[3]: s.after for s in steps for c in s.commands if c[:3] == ["gcloud", "functions", "deploy"]
    }
    assert set(deployed) == {"payments", "jobs-worker", "reconciler"}
    assert all({"test", "archive-functions"} <= after for after in deployed.values())


def test_every_bash_script_in_the_pipeline_parses() -> None:
    for step in load(PIPELINE)["steps"]:
        if step.get("entrypoint") == "bash":
            script = step["args"][1].replace("$$", "$")
            subprocess.run(["bash", "-n", "-c", script], check=True)


TAMPERINGS = {
    "missing Dockerfile": (
        "--file=run_services/api/Dockerfile",
        "--file=run_services/api/Dockerfile.gone",
        "run_services/api/Dockerfile.gone does not exist",
    ),
    "latest builder": (
        "cloud-sdk:581.0.0-slim\n    waitFor: [push-api]",
        "cloud-sdk:latest\n    waitFor: [push-api]",
        "cloud-sdk:latest is not pinned",
    ),
    "untagged builder": ("python:3.11.14-slim-bookworm", "python", "image python is not pinned"),
    "unknown make target": ("make test", "make test-everything", "make target 'test-everything'"),
    "unknown script": ("scripts.package_functions", "scripts.pack_functions", "scripts.pack_functions"),
    "push of an image no step builds": (
        '["push", "${_REGION}-docker.pkg.dev/$PROJECT_ID/ai-backend/api:$SHORT_SHA"]',
        '["push", "${_REGION}-docker.pkg.dev/$PROJECT_ID/ai-backend/web:$SHORT_SHA"]',
        "ai-backend/web:abc1234, which no step it waits on builds",
    ),
    "push that does not wait for the build": (
        "waitFor: [test, build-api]",
        "waitFor: [test]",
        "which no step it waits on builds",
    ),
    "function source not packaged": (
        "--source=build/functions/payments",
        "--source=functions/payments",
        "source 'functions/payments' is not packaged for payments",
    ),
    "archive of zips nobody makes": (
        '"-m", "scripts.package_functions", "--zip",',
        '"-m", "scripts.package_functions",',
        "copies build/functions/payments.zip, which is neither",
    ),
    "wrong entry point": ("--entry-point=run_step", "--entry-point=main", "jobs-worker must use entry point"),
    "unknown function": (
        "      - reconciler\n      - --gen2",
        "      - sweeper\n      - --gen2",
        "function sweeper is not one",
    ),
    "undefined substitution": ("--region=${_REGION}", "--region=${_ZONE}", "unknown substitution $_ZONE"),
    "image built before the console": (
        "waitFor: [build-console]",
        'waitFor: ["-"]',
        "COPY console/dist/ before step build-console built it",
    ),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_a_tampered_copy_is_caught(name: str, tmp_path: Path) -> None:
    old, new, expected = TAMPERINGS[name]
    text = PIPELINE.read_text()
    assert old in text, f"the tampering {name!r} no longer applies to cloudbuild.yaml"
    copy = tmp_path / "cloudbuild.yaml"
    copy.write_text(text.replace(old, new, 1))
    found = problems(load(copy), ROOT)
    assert any(expected in p for p in found), found


def test_a_dockerfile_on_a_floating_base_or_copying_a_missing_file_is_caught(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text("test:\n\ttrue\n")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY app/ /app/\n")
    config = {"steps": [{"id": "b", "name": "gcr.io/cloud-builders/docker:24.0.9", "args": ["build", "."]}]}
    found = problems(config, tmp_path)
    assert "Dockerfile: base image 'python:3.11-slim' is not pinned by digest" in found
    assert "Dockerfile: COPY source app/ does not exist" in found


def dockerignore_includes(path: str) -> bool:
    """Whether the build context keeps `path`, by .dockerignore's rule: the last matching pattern wins."""
    included = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(p, pattern[3:]) for p in parts)
        else:
            hit = any(fnmatch.fnmatch(p, pattern) and p.count("/") == pattern.count("/") for p in prefixes)
        if hit:
            included = keep
    return included


def test_the_image_holds_the_code_and_lock_but_no_tests_bench_terraform_or_venv() -> None:
    for kept in (
        "shared/settings.py",
        "shared/plans/plans.toml",
        "run_services/api/main.py",
        "requirements.runtime.lock",
    ):
        assert dockerignore_includes(kept), kept
    for dropped in (
        "tests/conftest.py",
        "bench/README.md",
        "terraform/environments/prod/main.tf",
        ".venv/bin/python",
        ".git/HEAD",
        "build/functions/payments/main.py",
        "scripts/devstack.py",
        "shared/__pycache__/ids.cpython-311.pyc",
    ):
        assert not dockerignore_includes(dropped), dropped


def test_the_dockerfile_runs_uvicorn_as_a_non_root_user_with_fonts_and_no_build_tools() -> None:
    text = DOCKERFILE.read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)
    assert len(stages) == 3, "a build stage and a runtime stage"
    runtime = stages[-1]
    assert "fonts-dejavu-core" in runtime
    assert not re.search(r"\b(gcc|g\+\+|build-essential|make|git)\b", runtime)
    user = re.findall(r"^USER (\S+)", runtime, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime and "PYTHONUNBUFFERED=1" in runtime
    assert "uvicorn run_services.api.main:app --host 0.0.0.0 --port ${PORT:-8080}" in runtime
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.MULTILINE):
        assert dockerignore_includes(source.rstrip("/") + "/x" if source.endswith("/") else source), source


def test_pdf_export_finds_the_font_the_image_installs() -> None:
    # Debian's fonts-dejavu-core puts DejaVuSans.ttf here; shared/export must look in the same place.
    from shared.export.fonts import SYSTEM_FONTS

    assert Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") in SYSTEM_FONTS
