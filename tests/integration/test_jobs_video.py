"""Video jobs end to end on the emulators: the worker submits the generation through litellm to the
scripted video provider, then waits for it by scheduling its step again (a Cloud Task with a schedule
time, `job-{id}-0-p{k}`), never by sleeping; the finished video is stored in the Storage emulator and
returned as a signed URL, and the hold is settled for the seconds made, or released on failure."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.fakes.video import MP4, FakeVideos
from tests.support.helpers import User, db, wait_settled
from tests.support.jobs import (
    VIDEO_POLL_S,
    VIDEO_SECOND_PRICE,
    WELCOME,
    JobsStack,
    Subscription,
    finished,
    hold_of,
    storage_client,
    wait_for_job,
)


def word() -> str:
    return f"v{uuid.uuid4().hex[:10]}"


def start(client: httpx.Client, user: User, prompt: str, **extra: Any) -> dict[str, Any]:
    body = {"type": "video", "input": {"prompt": prompt, "model": "fake-video", "seconds": 4, **extra}}
    response = client.post("/v1/jobs", headers=user.headers, json=body)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def polls_of(job_id: str, step: int = 0) -> list[dict[str, Any]]:
    ref = db().collection("jobs").document(job_id).collection("steps").document(str(step))
    docs = sorted(ref.collection("polls").get(), key=lambda snap: int(snap.id))
    return [snap.to_dict() or {} for snap in docs]


def test_a_video_is_made_by_polling_with_scheduled_tasks(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack, fake_videos: FakeVideos
) -> None:
    subscription = Subscription(jobs_stack.settings.gcp_project, jobs_stack.settings.jobs_topic)
    try:
        check_video(jobs_client, jobs_user(), jobs_stack, fake_videos, subscription)
    finally:
        subscription.close()


def check_video(
    jobs_client: httpx.Client,
    user: User,
    jobs_stack: JobsStack,
    fake_videos: FakeVideos,
    subscription: Subscription,
) -> None:
    tag = word()
    fake_videos.polls(tag, 3)  # in progress twice (33 %, 66 %), completed on the third check
    price = 4 * VIDEO_SECOND_PRICE
    job = start(jobs_client, user, f"a cat surfing {tag}")
    assert job["state"] == "queued" and job["steps"] == 2 and job["reserved"] == price
    assert job["input"] == {
        "prompt": f"a cat surfing {tag}",
        "model": "fake-video",
        "seconds": 4,
        "size": "1280x720",
        "price": price,
    }

    wait_for_job(jobs_client, user, job["id"], lambda j: len(polls_of(j["id"])) >= 2, timeout=30)
    # A late duplicate of an earlier poll's task does nothing: the job is past that poll.
    stale = httpx.post(jobs_stack.worker_url, json={"job_id": job["id"], "step": 0, "poll": 1}, timeout=30)
    assert stale.status_code == 200 and stale.json()["result"] in ("duplicate", "finished"), stale.text

    done = wait_for_job(jobs_client, user, job["id"], finished, timeout=30)
    assert done["state"] == "succeeded" and done["progress"] == 100, done
    assert done["spent"] == price
    assert fake_videos.submits(tag) == 1
    assert fake_videos.status_calls(tag) == 3

    # Three waits, each a task scheduled VIDEO_POLL_S after it was checkpointed, and each check ran no
    # earlier than its task's schedule time; the delivery that checked then queued the next wait at once.
    polls = polls_of(job["id"])
    assert len(polls) == 3
    step = db().collection("jobs").document(job["id"]).collection("steps").document("0").get().to_dict()
    assert step is not None and step["polls"] == 3 and step["cost"] == 0
    checks = fake_videos.status_times(tag)
    for k, poll in enumerate(polls):
        scheduled: dt.datetime = poll["scheduled_for"]
        waited = (scheduled - poll["at"]).total_seconds()
        assert 0 < waited <= VIDEO_POLL_S, poll
        assert checks[k] >= scheduled.timestamp() - 0.01, (k, checks[k], scheduled)
        if k + 1 < len(polls):
            assert polls[k + 1]["at"].timestamp() - checks[k] < VIDEO_POLL_S  # no sleep in between

    [result] = done["results"]
    assert result["kind"] == "video" and result["content_type"] == "video/mp4" and result["bytes"] == len(MP4)
    assert result["path"] == f"users/{user.user_id}/jobs/{job['id']}/video.mp4"
    assert "X-Goog-Signature=" in result["url"]
    assert httpx.get(result["url"], timeout=10).content == MP4
    bucket = storage_client().bucket(jobs_stack.settings.jobs_bucket)
    assert bucket.blob(result["path"]).download_as_bytes() == MP4
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - price, "reserved": 0}
    assert hold_of(job["id"])["charged"] == price

    # Progress went out on Pub/Sub within the generation step too (the provider's 33 % and 66 % of
    # step 0 of 2), then 50 % and 100 %.
    seen: set[int] = set()

    def collect(message: dict[str, Any]) -> bool:
        if message["job_id"] == job["id"]:
            seen.add(message["progress"])
        return {16, 33, 50, 100} <= seen

    subscription.wait_for(collect)


def test_a_failed_video_fails_the_job_and_releases_the_credits(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_videos: FakeVideos
) -> None:
    user = jobs_user()
    failed_op, refused = word(), word()
    fake_videos.fail(failed_op)  # the provider's operation ends failed
    fake_videos.refuse(refused, 400)  # the provider refuses the prompt outright
    first = start(jobs_client, user, f"forbidden {failed_op}")
    second = start(jobs_client, user, f"refused {refused}", seconds=2)
    for job, code in ((first, "video_failed"), (second, "video_generation_failed")):
        done = wait_for_job(jobs_client, user, job["id"], finished, timeout=30)
        assert done["state"] == "failed" and done["error"]["code"] == code, done
        assert done["spent"] == 0 and done["results"] == []
        assert hold_of(job["id"])["state"] == "voided"
    assert fake_videos.submits(failed_op) == 1 and fake_videos.status_calls(failed_op) == 1
    assert fake_videos.submits(refused) == 1 and fake_videos.status_calls(refused) == 0  # never retried
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME, "reserved": 0}


def test_bad_video_requests_reserve_nothing(jobs_client: httpx.Client, jobs_user: Callable[[], User]) -> None:
    user = jobs_user()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"prompt": "x", "seconds": 3}, 400, "unsupported_duration"),
        ({"prompt": "x", "size": "7x7"}, 400, "unsupported_size"),
        ({"prompt": "x", "model": "nope"}, 404, "model_not_found"),
        ({"prompt": "", "seconds": 4}, 422, "invalid_request"),
        ({"prompt": "x", "seconds": 0}, 422, "invalid_request"),
    ]
    for spec, status, code in cases:
        response = jobs_client.post("/v1/jobs", headers=user.headers, json={"type": "video", "input": spec})
        assert response.status_code == status, (spec, response.text)
        assert response.json()["error"]["code"] == code, (spec, response.text)
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME, "reserved": 0}
    assert jobs_client.get("/v1/jobs", headers=user.headers).json()["data"] == []
