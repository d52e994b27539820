"""Process plumbing shared by the local stack (scripts/devstack.py, scripts/emulators.py), the benchmarks
(bench/procs.py) and the tests: free ports, readiness probes, and children that each run in their own
process group so that stopping one stops everything it started.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    """A port nobody listens on right now (another process may still take it before we bind it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    """The server answers at all (any status below 500): it is up, whatever the path means to it."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(200 <= response.status < 500)
    except Exception:
        return False


def terminate_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's whole process group (it was started in a session of its own)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)


def reap_group(proc: subprocess.Popen[bytes], timeout: float = 8) -> None:
    """Wait for a terminated child; SIGKILL its group when it is still there after `timeout` seconds."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Stack:
    log_dir: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def start(
        self,
        name: str,
        cmd: list[str],
        ready: Callable[[], bool],
        timeout: float = 60,
        to_terminal: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {**os.environ, **self.env, **(extra_env or {})}
        out = None if to_terminal else open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )
        self.procs.append((name, proc))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(
                    f"{name} exited with code {proc.returncode}; see {self.log_dir / (name + '.log')}"
                )
            if ready():
                return
            time.sleep(0.1)
        raise SystemExit(
            f"{name} did not become ready in {timeout:.0f}s; see {self.log_dir / (name + '.log')}"
        )

    def start_on_free_port(
        self,
        name: str,
        cmd_for: Callable[[int], list[str]],
        ready_on: Callable[[int], bool],
        timeout: float = 60,
        attempts: int = 3,
    ) -> int:
        """Start on a free port and return it. Another process may take the port between the check and
        the server's bind (an emulator then hangs or exits): that is retried on another port."""
        for attempt in range(1, attempts + 1):
            port = free_port()
            try:
                self.start(name, cmd_for(port), functools.partial(ready_on, port), timeout=timeout)
                return port
            except SystemExit:
                self._kill_last()
                if attempt == attempts:
                    raise
                print(f"  {name} did not start on port {port}; trying another port", flush=True)
        raise AssertionError("unreachable")

    def _kill_last(self) -> None:
        _name, proc = self.procs.pop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        """SIGTERM every group first (so a quick second Ctrl-C still leaves nothing behind), then wait."""
        for _name, proc in reversed(self.procs):
            terminate_group(proc)
        for _name, proc in reversed(self.procs):
            reap_group(proc)
        self.procs.clear()
