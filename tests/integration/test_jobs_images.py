"""Image jobs end to end on the emulators: the API reserves and writes the job, the Cloud Tasks emulator
calls the worker over HTTP for each step, the worker calls the image provider through litellm, stores
the PNG in the Storage emulator and checkpoints in Firestore, and the hold is settled exactly."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from shared.settings import Settings
from tests.fakes.images import PNG, FakeImages
from tests.support.helpers import User, balance, db, drain_to, wait_settled
from tests.support.jobs import (
    IMAGE_PRICE,
    WELCOME,
    JobsStack,
    finished,
    hold_of,
    storage_client,
    wait_for_job,
)


def word() -> str:
    return f"w{uuid.uuid4().hex[:10]}"


def test_image_generation_end_to_end(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack, fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    response = jobs_client.post(
        "/v1/images/generations",
        headers=user.headers,
        json={"prompt": f"a red square {tag}", "model": "fake-image", "n": 2, "size": "1024x1024"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 2
    job_id = response.headers["X-Job-ID"]
    for item in body["data"]:
        fetched = httpx.get(item["url"], timeout=10)  # a V4 signed URL (the emulator ignores the signature)
        assert fetched.status_code == 200
        assert fetched.content == PNG
        assert "X-Goog-Signature=" in item["url"] and "X-Goog-Expires=" in item["url"]

    job = jobs_client.get(f"/v1/jobs/{job_id}", headers=user.headers).json()
    assert job["state"] == "succeeded" and job["progress"] == 100 and job["step"] == 2
    assert job["spent"] == 2 * IMAGE_PRICE and job["reserved"] == 2 * IMAGE_PRICE
    assert [r["path"] for r in job["results"]] == [
        f"users/{user.user_id}/jobs/{job_id}/image-{n}.png" for n in range(2)
    ]
    bucket = storage_client().bucket(jobs_stack.settings.jobs_bucket)
    assert bucket.blob(f"users/{user.user_id}/jobs/{job_id}/image-1.png").download_as_bytes() == PNG
    assert fake_images.calls(tag) == 2

    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - 2 * IMAGE_PRICE, "reserved": 0}
    hold = hold_of(job_id)
    assert hold["state"] == "settled" and hold["charged"] == 2 * IMAGE_PRICE

    as_b64 = jobs_client.post(
        "/v1/images/generations",
        headers=user.headers,
        json={
            "prompt": f"again {tag}",
            "model": "fake-image",
            "response_format": "b64_json",
            "size": "256x256",
        },
    )
    assert as_b64.status_code == 200, as_b64.text
    import base64

    assert base64.b64decode(as_b64.json()["data"][0]["b64_json"]) == PNG


def test_job_api_and_progress_events(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    fake_images.delay(tag, 0.4)
    response = jobs_client.post(
        "/v1/jobs", headers=user.headers, json={"type": "image", "input": {"prompt": f"slow {tag}", "n": 3}}
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert job["state"] == "queued" and job["steps"] == 3 and job["reserved"] == 3 * IMAGE_PRICE
    assert balance(jobs_client, user.headers) == {
        "available": WELCOME - 3 * IMAGE_PRICE,
        "reserved": 3 * IMAGE_PRICE,
    }

    events: list[tuple[str, dict[str, Any]]] = []
    with jobs_client.stream("GET", f"/v1/jobs/{job['id']}/events", headers=user.headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    names = [n for n, _ in events]
    assert names[-1] == "succeeded"
    assert "running" in names
    progress = [data["progress"] for _, data in events]
    assert progress == sorted(progress) and progress[-1] == 100
    assert len(events[-1][1]["results"]) == 3 and all(r["url"] for r in events[-1][1]["results"])

    listed = jobs_client.get("/v1/jobs", headers=user.headers).json()["data"]
    assert [j["id"] for j in listed][:1] == [job["id"]]
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - 3 * IMAGE_PRICE, "reserved": 0}


def test_cancel_mid_job_releases_the_rest_once(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    fake_images.delay(tag, 1.0)
    job = jobs_client.post(
        "/v1/jobs", headers=user.headers, json={"type": "image", "input": {"prompt": f"cancel {tag}", "n": 4}}
    ).json()
    wait_for_job(jobs_client, user, job["id"], lambda j: j["step"] >= 1, timeout=20)
    cancelled = jobs_client.delete(f"/v1/jobs/{job['id']}", headers=user.headers)
    assert cancelled.status_code == 200
    spent = cancelled.json()["spent"]
    assert cancelled.json()["state"] == "cancelled" and spent >= IMAGE_PRICE and spent < 4 * IMAGE_PRICE
    after_cancel = wait_settled(jobs_client, user.headers)
    assert after_cancel == {"available": WELCOME - spent, "reserved": 0}

    time.sleep(2.5)  # the step running at cancel time finishes now, and must change nothing
    again = jobs_client.delete(f"/v1/jobs/{job['id']}", headers=user.headers).json()
    assert again["state"] == "cancelled" and again["spent"] == spent
    assert wait_settled(jobs_client, user.headers) == after_cancel
    assert hold_of(job["id"])["charged"] == spent
    assert fake_images.calls(tag) <= spent // IMAGE_PRICE + 1
    calls = fake_images.calls(tag)
    time.sleep(1.5)
    assert fake_images.calls(tag) == calls  # no step runs after the cancel


def test_another_users_job_is_not_found(jobs_client: httpx.Client, jobs_user: Callable[[], User]) -> None:
    owner, other = jobs_user(), jobs_user()
    job = jobs_client.post(
        "/v1/jobs", headers=owner.headers, json={"type": "image", "input": {"prompt": f"mine {word()}"}}
    ).json()
    for method, path in (
        ("GET", f"/v1/jobs/{job['id']}"),
        ("DELETE", f"/v1/jobs/{job['id']}"),
        ("GET", f"/v1/jobs/{job['id']}/events"),
    ):
        response = jobs_client.request(method, path, headers=other.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "job_not_found"
    assert jobs_client.get("/v1/jobs", headers=other.headers).json()["data"] == []
    done = wait_for_job(jobs_client, owner, job["id"], finished)
    assert done["state"] == "succeeded"


def test_bad_input_reserves_nothing(jobs_client: httpx.Client, jobs_user: Callable[[], User]) -> None:
    user = jobs_user()
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/v1/jobs", {"type": "image", "input": {"prompt": ""}}, 422, "invalid_request"),
        ("/v1/jobs", {"type": "nope", "input": {"prompt": "x"}}, 422, "invalid_request"),
        ("/v1/jobs", {"type": "image", "input": {"prompt": "x", "n": 0}}, 422, "invalid_request"),
        ("/v1/jobs", {"type": "image", "input": {"prompt": "x", "size": "7x7"}}, 400, "unsupported_size"),
        ("/v1/jobs", {"type": "image", "input": {"prompt": "x", "n": 5}}, 400, "too_many_images"),
        ("/v1/jobs", {"type": "image", "input": {"prompt": "x", "model": "nope"}}, 404, "model_not_found"),
        (
            "/v1/jobs",
            {"type": "image", "input": {"prompt": "x", "model": "fake-disabled"}},
            404,
            "model_not_found",
        ),
        ("/v1/images/generations", {"prompt": "x", "n": 11}, 422, "invalid_request"),
        (
            "/v1/images/generations",
            {"prompt": "x", "model": "fake-pricey", "n": 2},
            402,
            "budget_exceeded",  # the free plan's daily budget (250,000) is checked before the balance
        ),
    ]
    for path, body, status, code in cases:
        response = jobs_client.post(path, headers=user.headers, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code, (body, response.text)
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME, "reserved": 0}
    assert jobs_client.get("/v1/jobs", headers=user.headers).json()["data"] == []
    holds = db().collection("wallets").document(user.user_id).collection("holds").get()
    assert [h.id for h in holds if h.id.startswith("job:")] == []


def test_a_job_the_balance_cannot_pay_is_refused_with_nothing_reserved(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], settings: Settings
) -> None:
    user = jobs_user()
    drain_to(settings, user.user_id, leave=IMAGE_PRICE - 1)
    before = balance(jobs_client, user.headers)
    response = jobs_client.post(
        "/v1/jobs", headers=user.headers, json={"type": "image", "input": {"prompt": "a kite", "n": 1}}
    )
    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert balance(jobs_client, user.headers) == before
    assert jobs_client.get("/v1/jobs", headers=user.headers).json()["data"] == []
