"""The console's files under /app (run_services/api/console.py): served only when built, every answer
with the strict CSP, hashed assets cached for good and the page never."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from run_services.api.console import CSP, mount_console
from shared.settings import Settings


def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    return tmp_path


def test_served_with_the_csp_and_cache_rules(tmp_path: Path) -> None:
    app = FastAPI()
    assert mount_console(app, Settings(console_dir=built(tmp_path)))
    client = TestClient(app)
    page = client.get("/app/")
    assert page.status_code == 200 and "<title>console</title>" in page.text
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["permissions-policy"] == "microphone=(self), camera=(), geolocation=()"
    asset = client.get("/app/assets/index-abc123.js")
    assert asset.status_code == 200 and asset.headers["content-security-policy"] == CSP
    assert "immutable" in asset.headers["cache-control"]
    missing = client.get("/app/assets/nope.js")
    assert missing.status_code == 404 and missing.headers["content-security-policy"] == CSP
    redirect = client.get("/app", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/app/"
    assert client.get("/app/../../etc/passwd").status_code == 404


def test_the_csp_allows_nothing_inline_and_no_other_origin() -> None:
    rules = dict(rule.split(" ", 1) for rule in CSP.split("; "))
    assert rules["default-src"] == "'none'" and rules["frame-ancestors"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert rules[directive] == "'self'", directive
    # Read aloud plays blob: URLs the page made; no media from any host, not even this one.
    assert rules["media-src"] == "blob:"


def test_not_served_when_not_built(tmp_path: Path) -> None:
    app = FastAPI()
    assert not mount_console(app, Settings(console_dir=tmp_path))
    assert TestClient(app).get("/app/").status_code == 404


def test_google_sign_in_opens_the_csp_to_its_services_only(tmp_path: Path) -> None:
    app = FastAPI()
    assert mount_console(app, Settings(console_dir=built(tmp_path), google_client_id="id.apps.example"))
    csp = TestClient(app).get("/app/").headers["content-security-policy"]
    rules = dict(rule.split(" ", 1) for rule in csp.split("; "))
    assert rules["script-src"] == "'self' https://accounts.google.com/gsi/client"
    assert rules["style-src"] == "'self' https://accounts.google.com/gsi/style"
    assert rules["connect-src"] == "'self' https://accounts.google.com/gsi/"
    assert rules["frame-src"] == "https://accounts.google.com/gsi/"
    assert rules["default-src"] == "'none'" and rules["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp and "frame-src" not in CSP
