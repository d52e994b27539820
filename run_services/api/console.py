"""The reference web console (console/, issue 17): its built files served under /app by this service, so
the page and the API share one origin (no CORS, one deploy, one TLS certificate).

Every answer under /app carries a Content-Security-Policy that lets the page run only its own bundled
scripts and styles, talk only to this origin, and never be framed: an injected <script> or inline handler
does not run, and nothing can be sent elsewhere. When Google sign-in is configured
(settings.google_client_id), the policy also lets in Google Identity Services, narrowly: its one script,
its stylesheet, and its frames and calls under https://accounts.google.com/gsi/. The files are immutable
per build except index.html, which is never cached so a deploy is picked up at once.

Audio (the Chat view's Dictate and Read aloud): `connect-src 'self'` already covers the transcription
WebSocket, since CSP Level 3 matches ws: and wss: on this same host for 'self' (no other host is
allowed); the AudioWorklet that encodes the microphone is a file of this origin (script-src 'self');
spoken answers play from blob: URLs, so media-src is `blob:` and nothing else. A Permissions-Policy lets
only this origin use the microphone (no frame can), and nothing may use the camera or location."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import Settings

PREFIX = "/app"
GIS = "https://accounts.google.com/gsi/"


def content_security_policy(google: bool) -> str:
    """The console's CSP; `google` adds Google Identity Services' script, style, frames and calls."""
    extra = {"script": f" {GIS}client", "style": f" {GIS}style", "connect": f" {GIS}"} if google else {}
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self'{extra.get('script', '')}",
            f"style-src 'self'{extra.get('style', '')}",
            "img-src 'self' data:",
            "font-src 'self'",
            "media-src blob:",
            f"connect-src 'self'{extra.get('connect', '')}",
            *([f"frame-src {GIS}"] if google else []),
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


CSP = content_security_policy(google=False)
PERMISSIONS = b"microphone=(self), camera=(), geolocation=()"


class ConsoleHeaders:
    """The CSP (and framing and caching rules) on every answer of the mounted console."""

    def __init__(self, app: ASGIApp, csp: str = CSP) -> None:
        self.app = app
        self.csp = csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        immutable = "/assets/" in path

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", self.csp))
                headers.append((b"x-frame-options", b"DENY"))
                headers.append((b"permissions-policy", PERMISSIONS))
                cache = b"public, max-age=31536000, immutable" if immutable else b"no-cache"
                headers.append((b"cache-control", cache))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except HTTPException as exc:  # StaticFiles' 404 and 405: answered here, with the same headers
            await PlainTextResponse(str(exc.detail), exc.status_code)(scope, receive, with_headers)


def mount_console(app: FastAPI, settings: Settings) -> bool:
    """Serve the built console under /app when it was built; False when it was not (the API logs that at
    start-up, not here: this runs when the app module is imported)."""
    folder = settings.console_dir
    if not (folder / "index.html").is_file():
        return False

    @app.get(PREFIX, include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=308)

    csp = content_security_policy(google=bool(settings.google_client_id))
    app.mount(PREFIX, ConsoleHeaders(StaticFiles(directory=folder, html=True), csp), name="console")
    return True
