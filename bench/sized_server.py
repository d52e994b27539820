"""uvicorn (one worker, as bench/chat_overhead.py runs our API) on a listening socket whose accepted
connections have a fixed send buffer.

`python -m bench.sized_server --port P --sndbuf BYTES run_services.api.main:app`. On loopback the kernel
autotunes a connection's send buffer to megabytes (its segments are 64 KiB); a fixed size, as a network
path's would be, keeps the bytes queued for a reader that lags at what a deployment would see. Setting
SO_SNDBUF turns the autotuning off for the connections that inherit it.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn


def listener(port: int, sndbuf: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    sock.bind(("127.0.0.1", port))
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", help="the ASGI app, module:attribute")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sndbuf", type=int, required=True, help="bytes (the kernel doubles it)")
    args = parser.parse_args()
    config = uvicorn.Config(args.app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener(args.port, args.sndbuf)])


if __name__ == "__main__":
    main()
