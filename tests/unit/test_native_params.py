"""The native lane's parameter table (shared/gateway/native/params.json) says what litellm says, covers
every native deployment of the catalog, and lets a native call pick its parameters without litellm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scripts.native_params import TABLE, catalog_models
from shared.gateway.native.wire import DEFAULT_BASES, from_table, supported_params

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_is_what_the_installed_litellm_answers_for_every_model() -> None:
    # --check rebuilds the whole table from litellm (every model of its price map on the OpenAI-wire
    # providers, and the catalog's) and compares it byte for byte.
    done = subprocess.run(
        [sys.executable, "-m", "scripts.native_params", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_every_native_model_of_the_catalog_is_in_the_table() -> None:
    table = json.loads(TABLE.read_text())["models"]
    wanted = catalog_models(sorted(DEFAULT_BASES))
    assert ("openai", "gpt-4o-mini") in wanted and ("xai", "grok-4") in wanted
    assert {(p, m) for p, m in wanted if m not in table.get(p, {})} == set()


def test_choosing_parameters_for_the_catalog_never_imports_litellm() -> None:
    code = """
import sys
from shared.catalog.catalog import Catalog
from shared.gateway.native.wire import wire_for, DEFAULT_BASES
from shared.adapters.secrets import EnvSecrets
from shared.settings import Settings
catalog = Catalog.load(Settings(), EnvSecrets())
wires = [wire_for(d, frozenset(DEFAULT_BASES)) for ds in catalog.deployments.values() for d in ds]
wires = [w for w in wires if w is not None]
print(len(wires), sorted(wires[0].supported)[:3], "litellm" in sys.modules)
"""
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "XAI_API_KEY": "xai-test"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    count, _, loaded = done.stdout.strip().splitlines()[-1].rpartition(" ")
    assert loaded == "False", done.stdout
    assert int(count.split()[0]) >= 4


def test_a_self_hosted_name_gets_what_litellm_answers_for_any_name_it_does_not_know() -> None:
    # The rule of wire.from_table for `openai/` names missing from the table, checked against litellm
    # over every model name of its price map (whole keys and their tails, from every provider).
    from shared.gateway.lazy import litellm

    module = litellm()
    table = json.loads(TABLE.read_text())["models"]["openai"]
    names = {n for key in module.model_cost for n in (key, key.split("/")[-1], key.split("/", 1)[-1])}
    ruled = sorted(n for n in names if n not in table and from_table(n, "openai") is not None)
    assert len(ruled) > 3000 and from_table("my-llama-3-8b", "openai") is not None
    wrong = [
        n
        for n in ruled
        if frozenset(module.get_supported_openai_params(model=n, custom_llm_provider="openai") or [])
        != from_table(n, "openai")
    ]
    assert wrong == []
    assert from_table("gpt-7-turbo", "openai") is None and from_table("o9-mini", "openai") is None


def test_a_model_missing_from_the_table_is_asked_of_litellm() -> None:
    from shared.gateway.lazy import litellm

    name = "gpt-model-added-after-the-build"

    def asked(model: str) -> frozenset[str]:
        names = litellm().get_supported_openai_params(model=model, custom_llm_provider="openai")
        return frozenset(names or [])

    assert "temperature" in asked(name)
    assert supported_params(name, "openai") == asked(name)
    assert supported_params("gpt-4o-mini", "openai") == asked("gpt-4o-mini")
