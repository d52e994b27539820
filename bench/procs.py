"""Child processes for the benchmarks: spawn in their own process group, always stop, read /proc."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from scripts.stack import ROOT, reap_group, terminate_group

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGKILL if the benchmark dies without cleaning up."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """One child process in its own session (so its whole group can be signalled), logging to a file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # the hook only calls prctl
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}; see {self.log_path}")

    def wait_http(self, url: str, timeout: float = 90) -> float:
        """Poll url until it answers 2xx; returns seconds since spawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
                if 200 <= response.status < 300:
                    return time.perf_counter() - self.started
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f}s; see {self.log_path}")

    def terminate(self) -> None:
        terminate_group(self.proc)

    def stop(self) -> None:
        self.terminate()
        reap_group(self.proc)
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_all(children: list[Child]) -> None:
    """SIGTERM every group first (so a quick second Ctrl-C still leaves nothing behind), then wait."""
    for child in reversed(children):
        child.terminate()
    for child in reversed(children):
        child.stop()
    children.clear()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def host_cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat; busy excludes idle and iowait."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    total = sum(fields)
    return total - fields[3] - fields[4], total


def listener_pid(port: int) -> int | None:
    """The pid of our own process listening on 127.0.0.1:port (e.g. the emulator devstack started), if any."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[1].endswith(f":{port:04X}") and cols[3] == "0A":  # 0A: LISTEN
                    inodes.add(f"socket:[{cols[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name)
    return None


def memory_mb(pid: int, key: str = "VmHWM") -> float:
    """A Vm* line of /proc/<pid>/status in MiB (VmHWM: peak resident set; VmRSS: current)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/{pid}/status")


def descendants(pid: int) -> list[int]:
    """Pids of every live process below `pid` (children, grandchildren...), from /proc/<pid>/stat."""
    parent: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (proc / "stat").read_text()
                parent[int(proc.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        found += kids
        frontier = kids
    return sorted(found)


Bench = Callable[[list[Child], Path], Coroutine[Any, Any, dict[str, Any]]]


def run_bench(prefix: str, bench: Bench) -> dict[str, Any] | int:
    """Run `bench(children, tmp)` in a scratch folder and stop every process it started, however it ends:
    its results, or the exit status (130 interrupted, 1 failed, after each process's last log lines)."""

    def on_sigterm(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    children: list[Child] = []
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        try:
            return asyncio.run(bench(children, Path(tmp)))
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the benchmark's processes", flush=True)
            return 130
        except Exception as exc:
            print(f"\nbenchmark failed: {type(exc).__name__}: {exc}", flush=True)
            for child in children:
                print(f"--- last lines of {child.name}'s log:\n{child.tail()}", flush=True)
            return 1
        finally:
            stop_all(children)
