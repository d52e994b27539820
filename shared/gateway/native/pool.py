"""One pooled HTTP client per deployment, kept for the process (per event loop), HTTP/2 where offered.

A client belongs to the event loop that made it (its connections do); a deployment called from another
loop (a test's, a function's) gets a new one. `aclose` closes them all at shutdown.
"""

from __future__ import annotations

import asyncio
import importlib.util

import httpx

# HTTP/2 is negotiated over TLS (ALPN) when the `h2` package is installed; plain http stays HTTP/1.1.
HTTP2 = importlib.util.find_spec("h2") is not None


class Pool:
    def __init__(self, max_connections: int, keepalive: int) -> None:
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=keepalive)
        self._clients: dict[str, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}

    def client(self, deployment_id: str) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        found = self._clients.get(deployment_id)
        if found is not None and found[0] is loop and not found[1].is_closed:
            return found[1]
        # trust_env as the OpenAI SDK under litellm has it: HTTPS_PROXY / NO_PROXY / SSL_CERT_FILE apply.
        client = httpx.AsyncClient(http2=HTTP2, limits=self._limits)
        self._clients[deployment_id] = (loop, client)
        return client

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        clients, self._clients = self._clients, {}
        for owner, client in clients.values():
            if owner is loop:
                await client.aclose()
