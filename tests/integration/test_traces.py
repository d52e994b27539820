"""Traces (issue 16, item 5): a chat call is one trace continuing the caller's, with spans for admission,
the cache lookup and each ledger transaction; a job's steps join the request that created it; log lines
name the same trace."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from shared.telemetry.tracing import memory_spans
from tests.integration.test_jobs_export import make_thread
from tests.support.helpers import User
from tests.support.jobs import finished, wait_for_job

TRACE = "4bf92f3577b34da6a3ce929d0e0e{:04x}"
CALLER_SPAN = "00f067aa0ba902b7"


def of_trace(trace_id: str, wait_for: str, timeout: float = 10) -> list[ReadableSpan]:
    deadline = time.monotonic() + timeout
    while True:
        spans = [s for s in memory_spans() if f"{s.get_span_context().trace_id:032x}" == trace_id]
        if any(s.name == wait_for for s in spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def header(trace_id: str) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"}


def test_a_chat_call_is_one_trace_under_the_callers(client: httpx.Client, user: User) -> None:
    trace_id = TRACE.format(int(time.time() * 1000) % 0xFFFF)
    body = {
        "model": "fake-echo",
        "messages": [{"role": "user", "content": trace_id}],
        "max_tokens": 3,
        "temperature": 0,
    }
    response = client.post("/v1/chat/completions", json=body, headers={**user.headers, **header(trace_id)})
    assert response.status_code == 200, response.text
    spans = of_trace(trace_id, "POST /v1/chat/completions")
    by_id = {s.get_span_context().span_id: s for s in spans}
    (root,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert root.name == "POST /v1/chat/completions" and root.attributes is not None
    assert root.parent is not None and f"{root.parent.span_id:016x}" == CALLER_SPAN
    assert root.attributes["http.route"] == "/v1/chat/completions"
    assert root.attributes["http.response.status_code"] == 200
    names = [s.name for s in spans]
    assert "admission" in names and "cache.lookup" in names
    (attempt,) = [s for s in spans if s.name == "provider.attempt"]
    assert attempt.kind == SpanKind.CLIENT and attempt.attributes is not None
    assert attempt.attributes["model"] == "fake-echo" and attempt.attributes["attempt"] == 1
    ledger = [s for s in spans if s.name == "ledger.transaction"]
    operations = {str((s.attributes or {}).get("operation")) for s in ledger}
    assert {"Ledger.reserve", "Ledger._finish"} <= operations, operations
    for span in spans:  # one tree: every span's parent is in it, up to the root
        node = span
        while node is not root:
            assert node.parent is not None and node.parent.span_id in by_id, node.name
            node = by_id[node.parent.span_id]
    assert all(s.end_time and s.start_time and s.end_time >= s.start_time for s in spans)


def test_a_jobs_steps_join_the_request_that_created_it(
    jobs_client: httpx.Client, jobs_user: Callable[[], User]
) -> None:
    user = jobs_user()
    trace_id = TRACE.format((int(time.time() * 1000) + 7) % 0xFFFF)
    thread_id = make_thread(jobs_client, user, "traced")
    created = jobs_client.post(
        "/v1/jobs",
        json={"type": "export", "input": {"source": {"thread_id": thread_id}, "formats": ["pdf"]}},
        headers={**user.headers, **header(trace_id)},
    )
    assert created.status_code == 202, created.text
    assert wait_for_job(jobs_client, user, created.json()["id"], finished)["state"] == "succeeded"
    spans = of_trace(trace_id, "job.step")
    (step,) = [s for s in spans if s.name == "job.step"]
    (root,) = [s for s in spans if s.name == "POST /v1/jobs"]
    assert step.attributes is not None and step.attributes["job.id"] == created.json()["id"]
    assert step.attributes["job.result"] == "succeeded"
    assert step.parent is not None  # the task's traceparent: a span of the creating request
    assert any(s.get_span_context().span_id == step.parent.span_id for s in spans)
    assert root.get_span_context().trace_id == step.get_span_context().trace_id
    assert [s.name for s in spans].count("ledger.transaction") >= 2  # the hold, then its settlement


def test_cloud_runs_trace_header_is_continued_too(client: httpx.Client, user: User) -> None:
    trace_id = TRACE.format((int(time.time() * 1000) + 3) % 0xFFFF)
    headers = {**user.headers, "X-Cloud-Trace-Context": f"{trace_id}/{int(CALLER_SPAN, 16)};o=1"}
    assert client.get("/v1/credits", headers=headers).status_code == 200
    (root,) = [s for s in of_trace(trace_id, "GET /v1/credits") if s.kind == SpanKind.SERVER]
    assert root.parent is not None and f"{root.parent.span_id:016x}" == CALLER_SPAN
