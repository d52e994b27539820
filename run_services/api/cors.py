"""CORS for the web app: which origins may call the API from a browser, and which headers they may send
and read. Starlette's CORSMiddleware answers preflight requests itself (no route, no store is touched),
and a disallowed origin gets no Access-Control-Allow-Origin, so the browser keeps the answer from it."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from shared.settings import Settings

# What the routes read from a request (besides the simple headers every browser may send).
REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Workspace-ID",
    "X-Cache",
    "Cache-Control",
]
# What a client needs to read from an answer: ids, where it was served, caching, charges and limits.
RESPONSE_HEADERS = [
    "X-Request-ID",
    "X-Model",
    "X-Provider",
    "X-Route-Reason",
    "X-Cache",
    "X-Cache-Match",
    "X-Credits-Charged",
    "X-Cost-USD",
    "X-Job-ID",
    "X-Budget-Period",
    "X-Budget-Reset",
    "Retry-After",
    *(
        f"X-RateLimit-{part}-{kind}"
        for part in ("Limit", "Remaining", "Reset")
        for kind in ("Requests", "Tokens")
    ),
]
PREFLIGHT_CACHE_S = 600


def add_cors(app: FastAPI, settings: Settings) -> None:
    """Outermost, so every answer (a 413 or a 429 included) carries the CORS headers a browser needs."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins(),
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=REQUEST_HEADERS,
        expose_headers=RESPONSE_HEADERS,
        max_age=PREFLIGHT_CACHE_S,
    )
