"""The local stack retries a server whose port was taken between the free-port check and its bind."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.stack import Stack


def test_a_server_not_ready_on_its_port_is_killed_and_started_on_another(tmp_path: Path) -> None:
    tried: list[int] = []

    def ready_on(port: int) -> bool:
        tried.append(port)
        return len(set(tried)) > 1  # never ready on the first port

    stack = Stack(tmp_path)
    try:
        port = stack.start_on_free_port("sleeper", lambda p: ["sleep", "30"], ready_on, timeout=1)
        first = tried[0]
        assert port != first
        assert len(stack.procs) == 1  # the first attempt's process is gone, not left running
        assert stack.procs[0][1].poll() is None
    finally:
        stack.stop()


def test_it_gives_up_after_the_attempts(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    with pytest.raises(SystemExit, match="did not become ready"):
        stack.start_on_free_port(
            "sleeper", lambda p: ["sleep", "30"], lambda p: False, timeout=0.5, attempts=2
        )
    assert stack.procs == []
