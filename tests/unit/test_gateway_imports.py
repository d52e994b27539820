"""The gateway is the one adapter over litellm and the OpenAI SDK, and litellm is never imported before
LITELLM_LOCAL_MODEL_COST_MAP is set (or it fetches its price map from the network at import)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ("shared", "run_services", "functions")


def _importers(module: str) -> set[str]:
    pattern = re.compile(rf"^\s*(import {module}\b|from {module}\b)", re.MULTILINE)
    return {
        path.relative_to(ROOT).as_posix()
        for top in DEPLOYED
        for path in (ROOT / top).rglob("*.py")
        if pattern.search(path.read_text())
    }


def test_only_the_gateway_imports_litellm() -> None:
    # Every module under shared/gateway/ runs the package's __init__ first, which sets the variable.
    assert {p for p in _importers("litellm") if not p.startswith("shared/gateway/")} == set()


def test_only_one_adapter_imports_the_openai_sdk() -> None:
    assert _importers("openai") == {"shared/gateway/openai_sdk.py"}


def test_litellm_is_first_imported_with_the_local_cost_map_set() -> None:
    # A finder that only watches: it notes the variable at the moment `litellm` is first looked for.
    code = """
import os, sys
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "litellm":
            seen.append(os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP"))
sys.meta_path.insert(0, Watch())
import shared.gateway.errors
from shared.gateway.lazy import litellm
litellm()
print(seen)
"""
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['True']"


def test_importing_the_api_app_imports_neither_litellm_nor_the_openai_sdk() -> None:
    # Start-up stays fast (issue 15, item 3): litellm and the SDK are imported on first need only, and
    # so are the Cloud Tasks and Pub/Sub clients (jobs and exports need them, chat does not).
    code = """
import sys
import run_services.api.main
heavy = ("litellm", "openai", "google.cloud.tasks_v2", "google.pubsub_v1", "aiohttp")
heavy += ("jsonschema", "markdown_it")
loaded = sorted(m for m in heavy if m in sys.modules)
assert not loaded, loaded
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_a_native_lane_error_is_classified_without_litellm() -> None:
    code = """
import sys
from shared.gateway.errors import translate
from shared.gateway.native.errors import status_error, transport_error
from shared.gateway.retry import classify
import httpx
failure = classify(status_error(429, "rate limit reached", httpx.Headers({"retry-after": "2"})))
assert (failure.kind, failure.retry_after) == ("rate_limited", 2.0), failure
assert classify(transport_error(httpx.ConnectTimeout("slow"))).kind == "timeout"
bad = translate(status_error(400, "invalid_request_error", httpx.Headers()), "p")
assert bad.code == "provider_rejected_request"
assert "litellm" not in sys.modules and "openai" not in sys.modules
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
