"""Local stand-ins for the services error reports and LLM traces go to: they record what they receive.

- Sentry: `POST /api/{project}/envelope/` (newline-separated JSON, gzip or plain), `events()` the parsed
  event items;
- Langfuse: `POST /api/public/ingestion` (`{"batch": [...]}` with basic auth), `batches` as received.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Collector:
    envelopes: list[bytes] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/api/{project}/envelope/", self.envelope, methods=["POST"]),
                Route("/api/public/ingestion", self.ingestion, methods=["POST"]),
            ]
        )

    async def envelope(self, request: Request) -> JSONResponse:
        raw = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        self.envelopes.append(raw)
        return JSONResponse({"id": "ok"})

    async def ingestion(self, request: Request) -> JSONResponse:
        self.auth.append(base64.b64decode(request.headers["authorization"].split()[1]).decode())
        body = json.loads(await request.body())
        self.batches.append(body)
        return JSONResponse(
            {"successes": [{"id": e["id"], "status": 201} for e in body["batch"]], "errors": []}, 207
        )

    def events(self) -> list[dict[str, Any]]:
        """Every event item of every envelope (a header line, then item header and payload pairs)."""
        out = []
        for raw in self.envelopes:
            lines = raw.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if header and json.loads(header).get("type") == "event":
                    out.append(json.loads(payload))
        return out

    def langfuse_events(self) -> list[dict[str, Any]]:
        return [event for body in self.batches for event in body["batch"]]
