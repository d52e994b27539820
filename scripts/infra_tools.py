"""checkov for the Terraform checks (tests/infra/), in its own virtualenv: its bundled HCL parser clashes
with python-hcl2 in the main venv. `checkov_bin()` creates .local/checkov-venv from PyPI on first use and
marks it done with a stamp naming the pinned version, so a half-finished or outdated install is redone.

`python -m scripts.infra_tools` prepares it (the devstack does this before pytest, outside any test
timeout); `python -m scripts.infra_tools scan` runs checkov over terraform/ and prints its JSON.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKOV_VENV = ROOT / ".local" / "checkov-venv"
CHECKOV = "checkov==3.3.30"
STAMP = CHECKOV_VENV / ".installed"


def checkov_bin() -> Path:
    """The checkov entry point in its own venv, installed on first use (idempotent)."""
    exe = CHECKOV_VENV / "bin" / "checkov"
    if exe.exists() and STAMP.exists() and STAMP.read_text().strip() == CHECKOV:
        return exe
    print(f"  creating {CHECKOV_VENV.relative_to(ROOT)} for {CHECKOV} (once)…", flush=True)
    shutil.rmtree(CHECKOV_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
    pip = [str(CHECKOV_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, CHECKOV], check=True)
    STAMP.write_text(CHECKOV + "\n")
    return exe


def checkov_scan(directory: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """checkov over `directory` (terraform only, offline), JSON on stdout."""
    cmd = [
        str(checkov_bin()),
        "-d",
        str(directory),
        "--framework",
        "terraform",
        "--skip-download",
        "--quiet",
        "--compact",
        "-o",
        "json",
    ]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def main() -> None:
    if sys.argv[1:] == ["scan"]:
        result = checkov_scan(ROOT / "terraform")
        print(result.stdout or result.stderr)
        raise SystemExit(result.returncode)
    print(checkov_bin())


if __name__ == "__main__":
    main()
