"""A video step waiting on its operation whose scheduled task was lost (the instance died after the
checkpoint, before the enqueue): the reconciler re-drives it with its poll number, the job goes on
polling the same operation (never submits again) and finishes, charged once; a late duplicate of an
older poll does nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable

import httpx
from google.cloud import firestore

from shared.bootstrap import sweep_once
from shared.catalog.media import VideoModel
from shared.gateway.video import LitellmVideos
from shared.jobs.repository import JobRepository
from shared.jobs.schemas import Job
from shared.jobs.service import hold_id
from shared.ledger.ledger import Ledger
from tests.fakes.video import FakeVideos
from tests.support.helpers import User, wait_settled
from tests.support.jobs import VIDEO_SECOND_PRICE, WELCOME, JobsStack, finished, hold_of, wait_for_job


def waiting_job(stack: JobsStack, user: User, fake: FakeVideos, prompt: str, price: int) -> str:
    """A video job as a crashed instance leaves it: submitted, waiting at poll 2, no task queued."""

    async def run() -> str:
        model = VideoModel(
            "fake-video",
            "fake",
            "openai/fake-video",
            VIDEO_SECOND_PRICE,
            (4,),
            ("1280x720",),
            True,
            fake.base_url,
        )
        operation = await LitellmVideos(10).submit(model, prompt, 4, "1280x720")
        db = firestore.AsyncClient(project=stack.settings.gcp_project)
        job_id = uuid.uuid4().hex
        at = dt.datetime.now(dt.UTC)
        hold = await Ledger(db, stack.settings).reserve(
            user.user_id, hold_id(job_id), want=price, minimum=price, ttl_s=3600
        )
        quiet = at - dt.timedelta(seconds=stack.settings.jobs_step_lease_s + 5)
        job = Job(
            id=job_id,
            type="video",
            state="running",
            user_id=user.user_id,
            wallet_id=user.user_id,
            params={
                "prompt": prompt,
                "model": "fake-video",
                "seconds": 4,
                "size": "1280x720",
                "price": price,
            },
            steps=2,
            hold_id=hold.id,
            reserved=hold.amount,
            enqueued=0,
            polls=2,
            operation=operation,
            deadline=at + dt.timedelta(seconds=600),
            created_at=quiet,
            updated_at=quiet,
        )
        await JobRepository(db).create(job)
        db.close()
        return job_id

    return asyncio.run(run())


def test_a_lost_poll_is_redriven_and_keeps_polling_the_same_operation(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_videos: FakeVideos
) -> None:
    user = jobs_user()
    tag = f"s{uuid.uuid4().hex[:10]}"
    fake_videos.polls(tag, 3)
    price = 4 * VIDEO_SECOND_PRICE
    job_id = waiting_job(jobs_stack, user, fake_videos, f"lost poll {tag}", price)

    late = httpx.post(jobs_stack.worker_url, json={"job_id": job_id, "step": 0, "poll": 1}, timeout=30)
    assert late.json()["result"] == "duplicate" and fake_videos.status_calls(tag) == 0

    assert asyncio.run(sweep_once(jobs_stack.settings)).redriven >= 1
    done = wait_for_job(jobs_client, user, job_id, finished, timeout=30)
    assert done["state"] == "succeeded" and done["spent"] == price, done
    assert fake_videos.submits(tag) == 1  # the test's own submit: the job never submitted again
    assert fake_videos.status_calls(tag) == 3
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - price, "reserved": 0}
    asyncio.run(sweep_once(jobs_stack.settings))
    assert fake_videos.status_calls(tag) == 3
    assert hold_of(job_id)["charged"] == price
