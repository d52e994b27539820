"""Writes shared/gateway/native/params.json: the OpenAI parameters each model accepts on each
OpenAI-wire provider, as litellm's `get_supported_openai_params` answers, so that a native call never
has to import litellm (2.75 s) to know which parameters to drop.

    python -m scripts.native_params          # rewrite the table from the installed litellm
    python -m scripts.native_params --check  # exit 1 if the table differs from what litellm says

The table holds every model of litellm's bundled price map on those providers and every native
deployment of our catalog, each as an index into a list of distinct parameter sets. A model that is in
neither (a deployment added since) is looked up in litellm at its first call, as before.
tests/unit/test_native_params.py runs the check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "shared" / "gateway" / "native" / "params.json"
CATALOG = ROOT / "shared" / "catalog" / "models.toml"


UNKNOWN = "a-self-hosted-model"


def catalog_models(providers: list[str]) -> set[tuple[str, str]]:
    """(provider, model) of every model and deployment in shared/catalog/models.toml."""
    raw = tomllib.loads(CATALOG.read_text())
    found = set()
    for model in raw.get("models", []):
        for conf in (model, *model.get("deployments", [])):
            prefix, _, name = str(conf.get("litellm_model", "")).partition("/")
            if prefix in providers and name:
                found.add((prefix, _provider_name(prefix, name)))
    return found


def _provider_name(prefix: str, name: str) -> str:
    # As shared/gateway/native/wire.py names a Fireworks model before looking it up.
    if prefix == "fireworks_ai" and not name.startswith("accounts/"):
        return f"accounts/fireworks/models/{name}"
    return name


def build() -> dict[str, Any]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from shared.gateway.lazy import litellm
    from shared.gateway.native.wire import DEFAULT_BASES

    module = litellm()
    providers = sorted(DEFAULT_BASES)
    wanted = catalog_models(providers)
    for key, info in module.model_cost.items():
        provider = info.get("litellm_provider")
        if provider in DEFAULT_BASES:  # every mode: a name litellm knows is never taken for a new one
            name = key[len(provider) + 1 :] if key.startswith(f"{provider}/") else key
            wanted.add((provider, _provider_name(provider, name)))
    sets: list[list[str]] = []
    index: dict[tuple[str, ...], int] = {}
    table: dict[str, dict[str, int]] = {p: {} for p in providers}

    def answer(provider: str, name: str) -> int:
        names = module.get_supported_openai_params(model=name, custom_llm_provider=provider) or []
        key = tuple(sorted({str(n) for n in names}))
        if key not in index:
            index[key] = len(sets)
            sets.append(list(key))
        return index[key]

    for provider, name in sorted(wanted):
        table[provider][name] = answer(provider, name)
    # litellm's answer for a name it does not know (a self-hosted model behind an OpenAI-compatible
    # server): shared/gateway/native/wire.py uses it for such names on `openai/` only.
    unknown = {provider: answer(provider, UNKNOWN) for provider in providers}
    return {"litellm": version("litellm"), "sets": sets, "models": table, "unknown": unknown}


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=True) + "\n"


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--check", action="store_true", help="compare, don't write")
    args = parser.parse_args()
    text = render(build())
    if args.check:
        same = TABLE.is_file() and TABLE.read_text() == text
        if not same:
            print(f"{TABLE} is out of date: run python -m scripts.native_params", file=sys.stderr)
        return 0 if same else 1
    TABLE.write_text(text)
    print(f"wrote {TABLE} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
