"""The reconciler's part for jobs (shared/jobs/sweep.py) on the emulators: a job whose step task was lost
(the instance died between two steps) is re-driven and finishes, charged once; a job past its deadline
fails, keeping what its finished steps spent and releasing the rest, exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable

import httpx
from google.cloud import firestore

from shared.bootstrap import sweep_once
from shared.jobs.repository import JobRepository
from shared.jobs.schemas import Job
from shared.jobs.service import hold_id
from shared.jobs.sweep import SweepReport
from shared.ledger.ledger import Ledger
from tests.fakes.images import FakeImages
from tests.support.helpers import User, wait_settled
from tests.support.jobs import IMAGE_PRICE, WELCOME, JobsStack, finished, hold_of, wait_for_job


def orphan_job(
    stack: JobsStack,
    user: User,
    prompt: str,
    *,
    steps: int,
    step: int,
    spent: int,
    age_s: float,
    deadline_s: float,
) -> str:
    """A job as a crashed instance leaves it: its hold reserved, its document written, no task queued."""

    async def run() -> str:
        db = firestore.AsyncClient(project=stack.settings.gcp_project)
        job_id = uuid.uuid4().hex
        at = dt.datetime.now(dt.UTC)
        hold = await Ledger(db, stack.settings).reserve(
            user.user_id, hold_id(job_id), want=steps * IMAGE_PRICE, minimum=steps * IMAGE_PRICE, ttl_s=3600
        )
        job = Job(
            id=job_id,
            type="image",
            state="running" if step else "queued",
            user_id=user.user_id,
            wallet_id=user.user_id,
            params={
                "prompt": prompt,
                "model": "fake-image",
                "n": steps,
                "size": "1024x1024",
                "unit_price": IMAGE_PRICE,
            },
            step=step,
            steps=steps,
            progress=step * 100 // steps,
            hold_id=hold.id,
            reserved=hold.amount,
            spent=spent,
            enqueued=step - 1,
            deadline=at + dt.timedelta(seconds=deadline_s),
            created_at=at - dt.timedelta(seconds=age_s),
            updated_at=at - dt.timedelta(seconds=age_s),
        )
        await JobRepository(db).create(job)
        db.close()
        return job_id

    return asyncio.run(run())


def sweep(stack: JobsStack) -> SweepReport:
    return asyncio.run(sweep_once(stack.settings))


def test_a_lost_step_is_redriven_and_the_job_finishes_charged_once(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_images: FakeImages
) -> None:
    user = jobs_user()
    tag = f"s{uuid.uuid4().hex[:10]}"
    stale = jobs_stack.settings.jobs_step_lease_s + 5
    job_id = orphan_job(
        jobs_stack, user, f"lost {tag}", steps=2, step=1, spent=IMAGE_PRICE, age_s=stale, deadline_s=600
    )
    assert sweep(jobs_stack).redriven >= 1
    done = wait_for_job(jobs_client, user, job_id, finished)
    assert done["state"] == "succeeded" and done["spent"] == 2 * IMAGE_PRICE
    assert fake_images.calls(tag) == 1  # only the lost step ran
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - 2 * IMAGE_PRICE, "reserved": 0}
    sweep(jobs_stack)
    assert fake_images.calls(tag) == 1
    assert hold_of(job_id)["charged"] == 2 * IMAGE_PRICE


def test_a_job_past_its_deadline_is_failed_once(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User]
) -> None:
    user = jobs_user()
    job_id = orphan_job(
        jobs_stack, user, "overdue", steps=3, step=1, spent=IMAGE_PRICE, age_s=5, deadline_s=-1
    )
    assert sweep(jobs_stack).expired >= 1
    job = jobs_client.get(f"/v1/jobs/{job_id}", headers=user.headers).json()
    assert job["state"] == "failed" and job["error"]["code"] == "deadline_exceeded"
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - IMAGE_PRICE, "reserved": 0}
    sweep(jobs_stack)
    assert jobs_client.get(f"/v1/jobs/{job_id}", headers=user.headers).json()["state"] == "failed"
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - IMAGE_PRICE, "reserved": 0}
    assert hold_of(job_id) | {"expires_at": None, "created_at": None, "finished_at": None} == {
        "wallet_id": user.user_id,
        "amount": 3 * IMAGE_PRICE,
        "state": "settled",
        "charged": IMAGE_PRICE,
        "expires_at": None,
        "created_at": None,
        "finished_at": None,
        "ref": None,
        "drawn": {},  # no expiring credits were drawn (shared/ledger/lots.py)
    }


def test_one_broken_job_does_not_stop_the_sweep(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User]
) -> None:
    """A job whose hold is gone (data damaged by hand, say) is logged and skipped; the others are swept."""
    from tests.support.helpers import db

    broken_user, user = jobs_user(), jobs_user()
    broken = orphan_job(jobs_stack, broken_user, "broken", steps=1, step=0, spent=0, age_s=5, deadline_s=-1)
    wallet = db().collection("wallets").document(broken_user.user_id)
    wallet.collection("holds").document(hold_id(broken)).delete()
    job_id = orphan_job(
        jobs_stack, user, "overdue too", steps=2, step=1, spent=IMAGE_PRICE, age_s=5, deadline_s=-1
    )
    assert sweep(jobs_stack).expired >= 1
    assert jobs_client.get(f"/v1/jobs/{job_id}", headers=user.headers).json()["state"] == "failed"
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - IMAGE_PRICE, "reserved": 0}
