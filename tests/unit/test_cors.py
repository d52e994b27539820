"""CORS (issue 12, item 6): allowed origins from a setting, preflight answered before any route or store,
credentials allowed, the headers the API reads allowed and the ones clients read exposed; a disallowed
origin gets no Access-Control-Allow-Origin."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from run_services.api.main import create_app
from shared.settings import LOCAL_ORIGINS, Settings

APP_ORIGIN = "https://app.example.com"


def _prod(**extra: Any) -> Settings:
    return Settings(environment="production", jwt_secret="x" * 64, api_docs_enabled=True, **extra)


def preflight(client: TestClient, origin: str, path: str = "/v1/chat/completions") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, x-workspace-id",
        },
    )


def test_an_allowed_origin_is_answered_before_any_route_or_store() -> None:
    # No lifespan: the app has no services, so anything that reached a route or Firestore would fail.
    client = TestClient(create_app(_prod(cors_origins=f"{APP_ORIGIN}, https://admin.example.com/")))
    for path in ("/v1/chat/completions", f"/v1/jobs/{'a' * 32}", "/v1/workspaces"):
        answer = preflight(client, APP_ORIGIN, path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
        assert answer.headers["access-control-allow-credentials"] == "true"
        allowed = answer.headers["access-control-allow-headers"].lower()
        assert {"authorization", "idempotency-key", "x-workspace-id", "x-cache", "cache-control"} <= set(
            allowed.replace(" ", "").split(",")
        )
        assert int(answer.headers["access-control-max-age"]) > 0
    assert preflight(client, "https://admin.example.com").status_code == 200  # trailing slash dropped


def test_a_disallowed_origin_gets_no_allow_origin() -> None:
    client = TestClient(create_app(_prod(cors_origins=APP_ORIGIN)))
    refused = preflight(client, "https://evil.example")
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    plain = client.get("/openapi.json", headers={"Origin": "https://evil.example"})
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_answers_expose_what_clients_read() -> None:
    client = TestClient(create_app(_prod(cors_origins=APP_ORIGIN)))
    answer = client.get("/openapi.json", headers={"Origin": APP_ORIGIN})
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
    wanted = {
        "x-request-id",
        "x-model",
        "x-provider",
        "x-cache",
        "retry-after",
        "x-ratelimit-remaining-requests",
        "x-credits-charged",
        "x-cost-usd",
    }
    assert wanted <= exposed


def test_production_allows_no_origin_unless_told_and_local_allows_the_dev_servers() -> None:
    assert _prod().allowed_origins() == []
    assert Settings(environment="local").allowed_origins() == list(LOCAL_ORIGINS)
    assert Settings(environment="local", cors_origins="").allowed_origins() == []
    client = TestClient(create_app(_prod()))
    assert "access-control-allow-origin" not in preflight(client, LOCAL_ORIGINS[0]).headers
