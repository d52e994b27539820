"""More of the jobs API on the emulators: the official OpenAI SDK against /v1/images/generations, a
create retried with the same Idempotency-Key, and a job that runs past its deadline."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import openai

from tests.fakes.images import PNG, FakeImages
from tests.support.helpers import User, db, wait_settled
from tests.support.jobs import IMAGE_PRICE, WELCOME, JobsStack, finished, hold_of, wait_for_job


def word() -> str:
    return f"a{uuid.uuid4().hex[:10]}"


def test_the_openai_sdk_generates_images(
    jobs_stack: JobsStack, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    sdk = openai.OpenAI(base_url=f"{jobs_stack.api}/v1", api_key=user.access_token, max_retries=0)
    result = sdk.images.generate(prompt=f"a lighthouse {tag}", model="fake-image", n=1, size="1024x1024")
    assert result.data is not None and result.data[0].url
    assert httpx.get(result.data[0].url, timeout=10).content == PNG
    assert fake_images.calls(tag) == 1


def test_a_retried_create_with_the_same_key_is_one_job(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    headers = {**user.headers, "Idempotency-Key": f"k-{tag}"}
    body = {"type": "image", "input": {"prompt": f"once {tag}", "n": 2}}
    first = jobs_client.post("/v1/jobs", headers=headers, json=body)
    second = jobs_client.post("/v1/jobs", headers=headers, json=body)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    done = wait_for_job(jobs_client, user, first.json()["id"], finished)
    assert done["state"] == "succeeded"
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - 2 * IMAGE_PRICE, "reserved": 0}
    assert fake_images.calls(tag) == 2
    assert len(jobs_client.get("/v1/jobs", headers=user.headers).json()["data"]) == 1
    other = {"type": "image", "input": {"prompt": f"something else {tag}", "n": 2}}
    reused = jobs_client.post("/v1/jobs", headers=headers, json=other)
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - 2 * IMAGE_PRICE, "reserved": 0}


def test_a_job_past_its_deadline_fails_and_keeps_only_what_it_spent(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    fake_images.delay(tag, 1.0)
    job = jobs_client.post(
        "/v1/jobs", headers=user.headers, json={"type": "image", "input": {"prompt": f"late {tag}", "n": 3}}
    ).json()
    wait_for_job(jobs_client, user, job["id"], lambda j: j["state"] == "running", timeout=10)
    # While step 0 runs, the deadline passes: step 0 still counts, step 1 never starts.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db().collection("jobs").document(job["id"]).update({"deadline": past})
    done = wait_for_job(jobs_client, user, job["id"], finished, timeout=20)
    assert done["state"] == "failed" and done["error"]["code"] == "deadline_exceeded"
    assert done["spent"] == IMAGE_PRICE and done["step"] == 1
    assert fake_images.calls(tag) == 1
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - IMAGE_PRICE, "reserved": 0}
    assert hold_of(job["id"])["charged"] == IMAGE_PRICE

    events: list[tuple[str, dict[str, Any]]] = []
    with jobs_client.stream("GET", f"/v1/jobs/{job['id']}/events", headers=user.headers) as stream:
        name = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    assert [n for n, _ in events] == ["failed"]
    assert events[0][1]["error"]["code"] == "deadline_exceeded"
