"""Run one llama.cpp server (xllamacpp) in this process until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from typing import Any


def serve_until_stopped(params: Any, label: str) -> None:
    """Start the server `params` describe (an xllamacpp.CommonParams with host and port set), say where it
    listens, and keep it up until the process is asked to stop."""
    import xllamacpp

    server = xllamacpp.Server(params)
    print(f"{label} listening on http://{params.hostnames[0]}:{params.port}/v1", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    del server
