"""At-least-once delivery made harmless: duplicate and concurrent deliveries of a step, a step that fails
then succeeds, one that fails every attempt, and one that can never succeed. The Cloud Tasks emulator
delivers the real tasks; the tests add their own deliveries straight to the worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.fakes.images import FakeImages
from tests.support.helpers import User, db, wait_settled
from tests.support.jobs import IMAGE_PRICE, WELCOME, JobsStack, Subscription, finished, hold_of, wait_for_job


def word() -> str:
    return f"d{uuid.uuid4().hex[:10]}"


def deliver(stack: JobsStack, job_id: str, step: int, retry_count: int = 0) -> httpx.Response:
    """One delivery of a step, as Cloud Tasks makes it."""
    return httpx.post(
        stack.worker_url,
        json={"job_id": job_id, "step": step},
        headers={
            "X-CloudTasks-TaskRetryCount": str(retry_count),
            "X-CloudTasks-TaskName": f"job-{job_id}-{step}",
        },
        timeout=30,
    )


def start(client: httpx.Client, user: User, prompt: str, n: int = 1) -> dict[str, Any]:
    response = client.post(
        "/v1/jobs", headers=user.headers, json={"type": "image", "input": {"prompt": prompt, "n": n}}
    )
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def steps_done(job_id: str) -> list[str]:
    return [snap.id for snap in db().collection("jobs").document(job_id).collection("steps").get()]


def test_duplicate_delivery_after_the_fact_changes_nothing(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack, fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    job = start(jobs_client, user, f"dup {tag}", n=2)
    wait_for_job(jobs_client, user, job["id"], finished)
    before = wait_settled(jobs_client, user.headers)
    for step in (0, 1, 0):
        response = deliver(jobs_stack, job["id"], step)
        assert response.status_code == 200 and response.json()["result"] == "finished", response.text
    assert fake_images.calls(tag) == 2
    assert (
        wait_settled(jobs_client, user.headers)
        == before
        == {"available": WELCOME - 2 * IMAGE_PRICE, "reserved": 0}
    )
    assert sorted(steps_done(job["id"])) == ["0", "1"]


def test_concurrent_deliveries_have_one_effect_and_one_charge(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack, fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    fake_images.delay(tag, 1.0)  # the step is still running when the duplicates arrive
    job = start(jobs_client, user, f"race {tag}")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: deliver(jobs_stack, job["id"], 0), range(4)))
    results = sorted(a.json()["result"] for a in answers)
    assert all(a.status_code in (200, 409) for a in answers), results
    assert set(results) <= {"succeeded", "busy", "duplicate", "finished"}, results
    done = wait_for_job(jobs_client, user, job["id"], finished)
    assert done["state"] == "succeeded" and done["spent"] == IMAGE_PRICE
    assert fake_images.calls(tag) == 1
    assert steps_done(job["id"]) == ["0"]
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - IMAGE_PRICE, "reserved": 0}
    assert hold_of(job["id"])["charged"] == IMAGE_PRICE


def test_a_step_that_fails_then_succeeds_is_charged_once(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    fake_images.fail_first(tag, 2, 503)  # attempts 1 and 2 fail; the third (the last allowed) succeeds
    job = start(jobs_client, user, f"flaky {tag}")
    done = wait_for_job(jobs_client, user, job["id"], finished)
    assert done["state"] == "succeeded", done
    assert fake_images.calls(tag) == 3
    assert done["spent"] == IMAGE_PRICE
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - IMAGE_PRICE, "reserved": 0}


def test_a_step_that_fails_every_attempt_fails_the_job_and_refunds(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack, fake_images: FakeImages
) -> None:
    subscription = Subscription(jobs_stack.settings.gcp_project, jobs_stack.settings.jobs_topic)
    try:
        user = jobs_user()
        tag = word()
        fake_images.always(tag, 500)
        job = start(jobs_client, user, f"broken {tag}", n=2)
        done = wait_for_job(jobs_client, user, job["id"], finished)
        assert done["state"] == "failed" and done["spent"] == 0
        assert done["error"]["code"] == "image_generation_failed"
        assert "3 attempts" in done["error"]["message"]
        assert fake_images.calls(tag) == jobs_stack.settings.jobs_max_attempts
        assert wait_settled(jobs_client, user.headers) == {"available": WELCOME, "reserved": 0}
        assert hold_of(job["id"])["state"] == "voided"
        message = subscription.wait_for(lambda m: m["job_id"] == job["id"] and m["state"] == "failed")
        assert message["error"]["code"] == "image_generation_failed"
        # A last straggler delivery after the failure changes nothing.
        assert deliver(jobs_stack, job["id"], 0, retry_count=7).json()["result"] == "finished"
        assert wait_settled(jobs_client, user.headers) == {"available": WELCOME, "reserved": 0}
    finally:
        subscription.close()


def test_a_permanent_failure_is_not_retried(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = word()
    fake_images.always(tag, 400)  # a refused prompt fails the same way every time
    job = start(jobs_client, user, f"refused {tag}")
    done = wait_for_job(jobs_client, user, job["id"], finished)
    assert done["state"] == "failed"
    assert fake_images.calls(tag) == 1
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME, "reserved": 0}


def test_the_worker_acknowledges_what_can_never_run(jobs_stack: JobsStack) -> None:
    for body in ({"job_id": "no-such-job", "step": 0}, {"nothing": True}, {"job_id": "a/b", "step": 0}):
        response = httpx.post(jobs_stack.worker_url, json=body, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["result"] in ("missing", "invalid_task")
