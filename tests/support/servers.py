"""Serving an app inside the test process."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from scripts.stack import free_port


class ServerThread:
    """A uvicorn server for an ASGI app, in a thread of this process, on a free port.

    `sndbuf`: the send buffer (bytes) of every connection it accepts (they inherit the listening socket's,
    and a set size turns the kernel's autotuning off), so a test can bound the bytes in flight to a client
    that reads nothing; on loopback an autotuned buffer grows to megabytes."""

    def __init__(self, app: Any, sndbuf: int | None = None) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", access_log=False
            )
        )
        sockets = None
        if sndbuf is not None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
            listener.bind(("127.0.0.1", self.port))
            sockets = [listener]
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": sockets}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
