"""Spend budgets cover jobs and speech to text too, not only chat: a job's worst case is admitted at
creation (402 budget_exceeded when it would pass the cap, with nothing reserved and no job), a
transcription stream is cut to what the budget has room for, and what they charge counts once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from google.cloud.firestore_v1.base_query import FieldFilter
from redis.asyncio import Redis

from shared.limits.budgets import periods
from shared.limits.budgets.schemas import Budget
from shared.limits.budgets.service import Budgets
from shared.plans.limits import plans_for
from shared.settings import Settings
from tests.support.audio import PRICE, open_stream, rest, send_audio, start
from tests.support.helpers import User, balance, db, sign_up, wait_settled
from tests.support.jobs import IMAGE_PRICE, finished, wait_for_job
from tests.support.servers import ServerThread

DAILY = 5 * PRICE  # the audio plan's daily budget: five seconds of the test model


def spent_today(settings: Settings, user_id: str, plan: str) -> tuple[int, int]:
    """(spent, in flight) of the user's daily budget, read from Redis."""

    async def run() -> tuple[int, int]:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        budgets = Budgets(redis, plans_for(settings), None, settings)
        limits = plans_for(settings).get(plan)
        budget = Budget(f"user:{user_id}", limits.daily_budget, limits.monthly_budget)
        day = next(p for p in periods.current(budget, dt.datetime.now(dt.UTC)) if p.kind == "day")
        try:
            return await budgets.usage(budget.subject, day)
        finally:
            await redis.aclose()

    return asyncio.run(run())


def count_jobs(user_id: str) -> int:
    return len(list(db().collection("jobs").where(filter=FieldFilter("user_id", "==", user_id)).stream()))


def test_a_job_over_the_daily_budget_is_refused_and_a_finished_one_counts_once(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], settings: Settings
) -> None:
    # The test users are on the shipped free plan: a daily budget of 250,000 credits (6 images).
    daily = plans_for(settings).get("free").daily_budget
    assert daily == 250_000
    user = jobs_user()
    first = jobs_client.post(
        "/v1/jobs",
        json={"type": "image", "input": {"prompt": f"fox {uuid.uuid4().hex[:6]}", "n": 4}},
        headers=user.headers,
    )
    assert first.status_code == 202, first.text
    before = balance(jobs_client, user.headers)
    jobs_before = len(
        list(db().collection("jobs").where(filter=FieldFilter("user_id", "==", user.user_id)).stream())
    )
    over = jobs_client.post(
        "/v1/jobs",
        json={"type": "image", "input": {"prompt": f"owl {uuid.uuid4().hex[:6]}", "n": 3}},
        headers=user.headers,
    )
    assert over.status_code == 402, over.text
    assert over.json()["error"]["code"] == "budget_exceeded"
    assert balance(jobs_client, user.headers) == before
    assert (
        len(list(db().collection("jobs").where(filter=FieldFilter("user_id", "==", user.user_id)).stream()))
        == jobs_before
    )
    done = wait_for_job(jobs_client, user, first.json()["id"], finished)
    assert done["state"] == "succeeded", done
    wait_settled(jobs_client, user.headers)
    for _ in range(100):
        if spent_today(settings, user.user_id, "free") == (4 * IMAGE_PRICE, 0):
            break
        asyncio.run(asyncio.sleep(0.05))
    assert spent_today(settings, user.user_id, "free") == (4 * IMAGE_PRICE, 0)
    # A job that fits what is left is admitted.
    fits = jobs_client.post(
        "/v1/jobs",
        json={"type": "image", "input": {"prompt": f"elk {uuid.uuid4().hex[:6]}", "n": 2}},
        headers=user.headers,
    )
    assert fits.status_code == 202, fits.text


@pytest.fixture(scope="module")
def audio_budget_settings(
    stt_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    path = tmp_path_factory.mktemp("audio-budget") / "plans.toml"
    path.write_text(f"[plans.audio]\nrequests_per_minute = 1000\ndaily_budget = {DAILY}\n")
    return stt_settings.model_copy(update={"plans_path": path, "default_plan": "audio", "plan_cache_s": 0})


@pytest.fixture(scope="module")
def audio_budget_api(audio_budget_settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    with ServerThread(create_app(audio_budget_settings)) as server:
        yield server.url


def test_a_transcription_stream_is_cut_to_the_budget_and_counts_what_it_charged(
    audio_budget_api: str, audio_budget_settings: Settings
) -> None:
    with httpx.Client(base_url=audio_budget_api, timeout=30) as client:
        email = f"b{uuid.uuid4().hex[:12]}@example.com"
        registered = sign_up(client, email, "correct horse b")
        user_id, headers = registered.user_id, registered.headers
        with open_stream(audio_budget_api, headers) as ws:
            started = start(ws)
            assert started["type"] == "started"
            assert started["max_seconds"] == 5  # the budget's room, not stt_max_seconds (60)
            # While it is open the whole budget is in flight: a second stream is refused.
            with open_stream(audio_budget_api, headers) as second:
                refused = start(second)
                assert (refused["type"], refused["code"]) == ("error", "budget_exceeded")
            send_audio(ws, 2.0)
            ws.send(json.dumps({"type": "stop"}))
            messages, _ = rest(ws)
        assert messages[-1]["credits"] == 2 * PRICE
        assert spent_today(audio_budget_settings, user_id, "audio") == (2 * PRICE, 0)
