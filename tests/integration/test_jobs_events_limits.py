"""A user keeps at most max_job_event_streams job event streams open (each polls Firestore): past that,
429 too_many_event_streams; closing one frees its slot. Another user's streams are not counted."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import ExitStack

import httpx

from tests.fakes.images import FakeImages
from tests.support.helpers import User
from tests.support.jobs import JobsStack, finished, wait_for_job


def test_event_streams_are_capped_per_user_and_freed_when_closed(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user, other = jobs_user(), jobs_user()
    tag = uuid.uuid4().hex[:10]
    fake_images.delay(tag, 4.0)  # the job stays running while the streams are open
    job = jobs_client.post(
        "/v1/jobs", headers=user.headers, json={"type": "image", "input": {"prompt": f"slow {tag}"}}
    ).json()
    url = f"/v1/jobs/{job['id']}/events"
    cap = jobs_stack.settings.max_job_event_streams
    with ExitStack() as streams:
        for _ in range(cap):
            opened = streams.enter_context(jobs_client.stream("GET", url, headers=user.headers))
            assert opened.status_code == 200
        refused = jobs_client.get(url, headers=user.headers)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "too_many_event_streams"
        assert refused.headers["Retry-After"]
        # Someone else's job is 404, whatever their own count.
        assert jobs_client.get(url, headers=other.headers).status_code == 404
    # The slots are freed when the streams close.
    with jobs_client.stream("GET", url, headers=user.headers) as again:
        assert again.status_code == 200
    assert wait_for_job(jobs_client, user, job["id"], finished, timeout=30)["state"] == "succeeded"
