"""Metrics (issue 16, item 6): the Prometheus text at /internal/metrics, behind its token, shows requests by
route and status, credits moved by the ledger, cache lookups and error answers by code."""

from __future__ import annotations

import re

import httpx

from tests.support.helpers import User

TOKEN = {"Authorization": "Bearer test-metrics-token"}


def scrape(client: httpx.Client) -> str:
    response = client.get("/internal/metrics", headers=TOKEN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? ([0-9.e+-]+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_the_text_counts_what_happened(client: httpx.Client, user: User) -> None:
    before = scrape(client)
    body = {"model": "fake-echo", "messages": [{"role": "user", "content": "count me"}], "max_tokens": 3}
    assert (
        client.post("/v1/chat/completions", json={**body, "temperature": 0}, headers=user.headers).status_code
        == 200
    )
    assert (
        client.post(
            "/v1/chat/completions", json={**body, "model": "no-such"}, headers=user.headers
        ).status_code
        == 404
    )
    after = scrape(client)
    route = {"http_route": "/v1/chat/completions"}
    assert (
        value(after, "http_server_request_duration_seconds_count", **route)
        >= value(before, "http_server_request_duration_seconds_count", **route) + 2
    )
    assert value(after, "credits_total", op="reserved") > value(before, "credits_total", op="reserved")
    assert value(after, "credits_total", op="settled") > value(before, "credits_total", op="settled")
    assert value(after, "cache_lookups_total") > value(before, "cache_lookups_total")
    assert value(after, "api_errors_total", status="404") > value(before, "api_errors_total", status="404")
    assert user.email not in after and user.user_id not in after  # by route and outcome, never by person


def test_the_text_is_not_public(client: httpx.Client, user: User) -> None:
    assert client.get("/internal/metrics").status_code == 401
    assert client.get("/internal/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/internal/metrics", headers=user.headers).status_code == 401  # a user is not a scraper
    assert "/internal/metrics" not in client.get("/openapi.json").text
