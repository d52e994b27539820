"""Metrics (issue 16, item 6): the Prometheus text at /internal/metrics, behind its token, shows requests by
route and status, credits moved by the ledger, cache lookups and error answers by code; the gateway's
attempts, retries, fallbacks and breakers; time to first token, output rate and our own overhead; the jobs
worker's steps."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from shared.telemetry.metrics import prometheus_text
from tests.fakes.provider import FakeProvider, Fault
from tests.integration.test_jobs_export import make_thread
from tests.support.helpers import User, rid, usage_for
from tests.support.jobs import finished, wait_for_job

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


def test_the_gateway_is_seen_retrying_falling_back_and_opening_its_breakers(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    before = scrape(client)
    fleet.always("fleet-main", Fault.http(503))
    body = {"model": "fleet-main", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    for _ in range(3):  # two tries on each of two deployments per call: 6 failures each, the breaker opens
        response = client.post("/v1/chat/completions", json=body, headers={**user.headers, **rid()})
        assert response.status_code == 200 and response.json()["model"] == "fleet-backup", response.text
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    failed = {"model": "fleet-main", "outcome": "failed", "failure": "unavailable"}
    assert grew("gateway_attempts_total", **failed) >= 10  # at least 4 + 4 + 2 before the breakers opened
    assert grew("gateway_retries_total", model="fleet-main") >= 4
    assert grew("gateway_fallbacks_total", requested="fleet-main", served="fleet-backup") == 3
    assert grew("gateway_attempts_total", model="fleet-backup", outcome="ok") == 3
    assert grew("gateway_breaker_transitions_total", state="open") >= 2
    assert value(after, "gateway_breaker_open", deployment="fleet-main@fake_a#0") == 1
    assert grew("llm_calls_total", model="fleet-backup", outcome="ok", feature="chat") == 3
    assert grew("llm_ttft_seconds_count", model="fleet-backup", provider="fake_b") == 3
    assert grew("gateway_overhead_seconds_count", api="chat") >= 3
    assert grew("llm_output_rate_per_second_count", model="fleet-backup") == 3


def test_overhead_is_our_time_less_the_providers(
    client: httpx.Client, user: User, fleet: FakeProvider
) -> None:
    """A provider that takes a second to answer adds a second to the time to first token, not to our
    overhead: the usage record keeps the time spent on providers apart."""
    fleet.always("fleet-solo", Fault.late(1.0))
    body = {"model": "fleet-solo", "messages": [{"role": "user", "content": "slowly"}], "max_tokens": 3}
    response = client.post("/v1/chat/completions", json=body, headers={**user.headers, **rid()})
    assert response.status_code == 200, response.text
    record = usage_for(response.headers["x-request-id"])
    assert record["provider_ms"] >= 1000
    assert record["ttft_ms"] >= record["provider_ms"]
    assert record["ttft_ms"] - record["provider_ms"] < 500


def test_the_jobs_worker_counts_its_steps_and_times_them(
    jobs_client: httpx.Client, jobs_user: Callable[[], User]
) -> None:
    """The worker (functions/jobs/main.py, in this process as in the jobs stack) records every step it
    runs: `job.steps` by result and the job's state after it, `job.step.duration` by result."""
    user = jobs_user()
    before = prometheus_text().decode()
    thread_id = make_thread(jobs_client, user, "metered")
    created = jobs_client.post(
        "/v1/jobs",
        json={"type": "export", "input": {"source": {"thread_id": thread_id}, "formats": ["pdf"]}},
        headers=user.headers,
    )
    assert created.status_code == 202, created.text
    assert wait_for_job(jobs_client, user, created.json()["id"], finished)["state"] == "succeeded"
    after = prometheus_text().decode()
    assert (
        value(after, "job_steps_total", state="succeeded")
        >= value(before, "job_steps_total", state="succeeded") + 1
    )
    assert value(after, "job_step_duration_seconds_count") > value(before, "job_step_duration_seconds_count")
    assert value(after, "job_step_duration_seconds_sum") > value(before, "job_step_duration_seconds_sum")
    assert created.json()["id"] not in after and user.user_id not in after  # never by job or person
