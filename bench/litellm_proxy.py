"""LiteLLM's own proxy as the peer of the side-by-side benchmark: its venv, its config, its process.

The proxy is installed once, pinned, into .bench/litellm-proxy-venv (gitignored) with the same Python
as ours, and started with one uvicorn worker, a master key generated per run, no database, and a
model list that points at the same fake provider as our API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.procs import Child
from scripts.stack import ROOT

PIN = "litellm[proxy]==1.106.2"
VENV = ROOT / ".bench" / "litellm-proxy-venv"
# Our own services' variables: the proxy must not pick up our Redis or emulators.
DROP_ENV = ("REDIS_URL", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "DATABASE_URL", "VIRTUAL_ENV")


def ensure_venv() -> Path:
    """The proxy's `litellm` command, installing the pinned package first if the venv lacks it."""
    marker = VENV / ".installed"
    exe = VENV / "bin" / "litellm"
    if exe.exists() and marker.exists() and marker.read_text().strip() == PIN:
        return exe
    print(f"    installing {PIN} into {VENV.relative_to(ROOT)} (once; about a minute)", flush=True)
    t0 = time.perf_counter()
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run([*pip, PIN], capture_output=True, text=True)
    if result.returncode != 0 or not exe.exists():
        raise RuntimeError(f"installing {PIN} failed:\n{result.stderr[-2000:]}")
    marker.write_text(PIN + "\n")
    print(f"    installed in {time.perf_counter() - t0:.0f} s", flush=True)
    return exe


def write_config(path: Path, api_base: str, models: list[str]) -> None:
    """config.yaml (written as JSON, which YAML reads): each model at the fake provider; no database."""
    config = {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {"model": f"openai/{name}", "api_base": api_base, "api_key": "fake-key"},
            }
            for name in models
        ],
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        "litellm_settings": {"telemetry": False},
    }
    path.write_text(json.dumps(config, indent=2) + "\n")


def start(exe: Path, config: Path, port: int, master_key: str, log_dir: Path) -> Child:
    """Spawn the proxy (one worker, warnings only, as our API runs); the caller waits for liveliness."""
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env.update(
        LITELLM_MASTER_KEY=master_key,
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # or it downloads its price map at import
        LITELLM_LOG="WARNING",  # also silences uvicorn's access log, as --no-access-log does for ours
        PATH=f"{exe.parent}{os.pathsep}{env.get('PATH', '')}",
    )
    cmd = [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    return Child("litellm-proxy", [*cmd, "--num_workers", "1"], env, log_dir)
