"""Quotas per account: API keys, workspaces owned, threads and stored jobs answer 409 past their setting;
chat streams and speech sessions open at once answer 429 past theirs (a Redis lease per open one,
released when it ends). Each refusal changes nothing, and one account's quota never counts another's."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from shared.settings import Settings
from tests.support.audio import open_stream, rest, send_audio, start
from tests.support.helpers import balance, register
from tests.support.jobs import JobsStack
from tests.support.servers import ServerThread
from tests.support.workspaces import code

STREAM = {
    "model": "fake-echo",
    "stream": True,
    "max_tokens": 3,
    "messages": [{"role": "user", "content": "hi"}],
}


def serve(settings: Settings, **limits: int) -> Iterator[httpx.Client]:
    from run_services.api.main import create_app

    app = create_app(settings.model_copy(update=limits))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def small(settings: Settings) -> Iterator[httpx.Client]:
    yield from serve(settings, max_api_keys=2, max_workspaces_owned=1, max_threads=2, max_open_streams=1)


@pytest.fixture(scope="module")
def small_jobs(jobs_stack: JobsStack) -> Iterator[httpx.Client]:
    yield from serve(jobs_stack.settings, max_stored_jobs=1)


@pytest.fixture(scope="module")
def small_stt(stt_settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    with ServerThread(create_app(stt_settings.model_copy(update={"max_speech_sessions": 1}))) as server:
        yield server.url


@pytest.fixture
def sync_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def test_api_keys_past_the_quota_are_409_and_deleting_one_makes_room(small: httpx.Client) -> None:
    _, headers = register(small)
    _, other = register(small)
    ids = [small.post("/v1/api-keys", headers=headers).json()["id"] for _ in range(2)]
    refused = small.post("/v1/api-keys", headers=headers)
    assert code(refused) == (409, "too_many_api_keys")
    assert len(small.get("/v1/api-keys", headers=headers).json()["data"]) == 2
    assert small.post("/v1/api-keys", headers=other).status_code == 201  # another account's quota
    assert small.delete(f"/v1/api-keys/{ids[0]}", headers=other).status_code == 404  # not theirs
    assert code(small.post("/v1/api-keys", headers=headers)) == (409, "too_many_api_keys")
    assert small.delete(f"/v1/api-keys/{ids[0]}", headers=headers).status_code == 204
    assert small.post("/v1/api-keys", headers=headers).status_code == 201


def test_workspaces_owned_past_the_quota_are_409(small: httpx.Client) -> None:
    _, headers = register(small)
    _, other = register(small)
    assert small.post("/v1/workspaces", json={"name": "One"}, headers=headers).status_code == 201
    assert code(small.post("/v1/workspaces", json={"name": "Two"}, headers=headers)) == (
        409,
        "too_many_workspaces",
    )
    assert len(small.get("/v1/workspaces", headers=headers).json()["data"]) == 1
    assert small.post("/v1/workspaces", json={"name": "Theirs"}, headers=other).status_code == 201


def test_threads_past_the_quota_are_409(small: httpx.Client) -> None:
    _, headers = register(small)
    _, other = register(small)
    for _ in range(2):
        assert small.post("/v1/threads", headers=headers).status_code == 201
    assert code(small.post("/v1/threads", headers=headers)) == (409, "too_many_threads")
    assert len(small.get("/v1/threads", headers=headers).json()["data"]) == 2
    assert small.post("/v1/threads", headers=other).status_code == 201


def test_stored_jobs_past_the_quota_are_409_with_nothing_reserved(small_jobs: httpx.Client) -> None:
    _, headers = register(small_jobs)
    body = {"type": "image", "input": {"prompt": "a red square", "model": "fake-image"}}
    first = small_jobs.post("/v1/jobs", json=body, headers={**headers, "Idempotency-Key": "one"})
    assert first.status_code == 202, first.text
    before = balance(small_jobs, headers)
    refused = small_jobs.post("/v1/jobs", json=body, headers=headers)
    assert code(refused) == (409, "too_many_jobs")
    assert balance(small_jobs, headers)["available"] == before["available"]
    assert len(small_jobs.get("/v1/jobs", headers=headers).json()["data"]) == 1
    # A retried create of the job already stored is not a new job.
    again = small_jobs.post("/v1/jobs", json=body, headers={**headers, "Idempotency-Key": "one"})
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]


def test_open_chat_streams_past_the_cap_are_429_and_a_finished_stream_frees_its_slot(
    small: httpx.Client, sync_redis: redis.Redis
) -> None:
    user_id, headers = register(small)
    key = f"{{u:{user_id}}}:open:streams"
    sync_redis.zadd(key, {"another-instance": time.time() + 600})  # a stream open elsewhere
    before = balance(small, headers)
    refused = small.post("/v1/chat/completions", json=STREAM, headers=headers)
    assert code(refused) == (429, "too_many_streams"), refused.text
    assert balance(small, headers) == before
    plain = small.post("/v1/chat/completions", json={**STREAM, "stream": False}, headers=headers)
    assert plain.status_code == 200, plain.text  # the cap is on streams only
    sync_redis.zrem(key, "another-instance")
    streamed = small.post("/v1/chat/completions", json=STREAM, headers=headers)
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    deadline = time.monotonic() + 5
    while sync_redis.zcard(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sync_redis.zcard(key) == 0
    _, other = register(small)  # another account has its own slots
    assert small.post("/v1/chat/completions", json=STREAM, headers=other).status_code == 200


def test_speech_sessions_past_the_cap_are_refused_at_start(small_stt: str, sync_redis: redis.Redis) -> None:
    with httpx.Client(base_url=small_stt, timeout=30) as client:
        user_id, headers = register(client)
        before = balance(client, headers)
    key = f"{{u:{user_id}}}:open:speech"
    sync_redis.zadd(key, {"another-instance": time.time() + 600})
    with open_stream(small_stt, headers) as ws:
        answer = start(ws)
        assert (answer["type"], answer["code"]) == ("error", "too_many_speech_sessions"), answer
        _, close_code = rest(ws)
    assert close_code == 4429
    with httpx.Client(base_url=small_stt, timeout=30) as client:
        assert balance(client, headers) == before
    sync_redis.zrem(key, "another-instance")
    with open_stream(small_stt, headers) as ws:
        assert start(ws)["type"] == "started"
        send_audio(ws, 2.0)
        ws.send('{"type": "stop"}')
        messages, close_code = rest(ws)
    assert close_code == 1000 and messages[-1]["type"] == "final"
    deadline = time.monotonic() + 5
    while sync_redis.zcard(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sync_redis.zcard(key) == 0


def test_a_streamed_thread_reply_counts_against_the_open_streams(
    small: httpx.Client, sync_redis: redis.Redis
) -> None:
    user_id, headers = register(small)
    thread = small.post("/v1/threads", headers=headers).json()["id"]
    key = f"{{u:{user_id}}}:open:streams"
    sync_redis.zadd(key, {"another-instance": time.time() + 600})
    message = {"content": "hi", "model": "fake-echo", "max_tokens": 3}
    refused = small.post(f"/v1/threads/{thread}/messages", json=message, headers=headers)
    assert code(refused) == (429, "too_many_streams")
    assert small.get(f"/v1/threads/{thread}/messages", headers=headers).json()["data"] == []
    sync_redis.zrem(key, "another-instance")
    assert small.post(f"/v1/threads/{thread}/messages", json=message, headers=headers).status_code == 200
