"""Research jobs end to end on the emulators: the worker plans with the chat fake through the gateway,
searches the scripted Tavily-shaped API (one step per query), reads the pages its hits point to, and
writes a cited report to the Storage emulator; every step's cost adds up in `spent`, settled once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.fakes.provider import INPUT_PRICE, OUTPUT_PRICE, FakeProvider, prompt_tokens
from tests.fakes.search import FakeSearch, fact, slug
from tests.support.helpers import User, db, wait_settled
from tests.support.jobs import (
    SEARCH_PRICE,
    WELCOME,
    JobsStack,
    finished,
    hold_of,
    storage_client,
    wait_for_job,
)


def word() -> str:
    return f"r{uuid.uuid4().hex[:10]}"


def start(client: httpx.Client, user: User, question: str, max_sources: int = 3) -> dict[str, Any]:
    body = {
        "type": "research",
        "input": {"question": question, "model": "fake-echo", "max_sources": max_sources},
    }
    response = client.post("/v1/jobs", headers=user.headers, json=body)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def deliver(stack: JobsStack, job_id: str, step: int) -> httpx.Response:
    return httpx.post(stack.worker_url, json={"job_id": job_id, "step": step}, timeout=30)


def step_costs(job_id: str) -> dict[int, int]:
    steps = db().collection("jobs").document(job_id).collection("steps").get()
    return {int(snap.id): int((snap.to_dict() or {})["cost"]) for snap in steps}


def job_data(job_id: str) -> dict[str, Any]:
    doc = db().collection("jobs").document(job_id).get().to_dict() or {}
    data: dict[str, Any] = doc["data"]
    return data


def model_calls(provider: FakeProvider, tag: str) -> list[dict[str, Any]]:
    return [c.body for c in provider.calls if tag in json.dumps(c.body)]


def model_cost(body: dict[str, Any], output_tokens: int) -> int:
    """What the chat fake's answer to `body` costs at fake-echo's prices (as the catalog computes it)."""
    micro = prompt_tokens(body["messages"]) * INPUT_PRICE + output_tokens * OUTPUT_PRICE
    return -(-micro // 1_000_000)


def searching(search: FakeSearch, tag: str, timeout: float = 30) -> None:
    """Wait until the job's first search has reached the search API (and is held there by a delay)."""
    deadline = time.monotonic() + timeout
    while search.calls(tag) < 1:
        assert time.monotonic() < deadline, "the search never started"
        time.sleep(0.05)


PLAN_REPLY = "alpha delta echo hotel uniform one two three four five six seven"  # fake-echo's 12 words


def test_research_end_to_end_writes_a_cited_report_and_charges_its_steps(
    jobs_client: httpx.Client,
    jobs_user: Callable[[], User],
    jobs_stack: JobsStack,
    fake_search: FakeSearch,
    fake_provider: FakeProvider,
) -> None:
    user = jobs_user()
    tag = word()
    question = f"How do tides work {tag} today?"
    job = start(jobs_client, user, question)
    queries = jobs_stack.settings.research_max_queries
    assert job["steps"] == queries + 3 and job["reserved"] > queries * SEARCH_PRICE

    done = wait_for_job(jobs_client, user, job["id"], finished, timeout=60)
    assert done["state"] == "succeeded", done
    # The plan made two queries (the question, and the fake's one line): 1 + 2 + 1 + 1 steps.
    assert done["steps"] == 5 and done["step"] == 5 and done["progress"] == 100
    data = job_data(job["id"])
    assert data["queries"] == [question, PLAN_REPLY]
    assert fake_search.calls(tag) == 1

    # Sources: round robin over the two queries' hits, three at most; the -b pages answer 404, so
    # their text is the search snippet.
    first, second = fake_search.urls(question), fake_search.urls(PLAN_REPLY)
    sources = data["sources"]
    assert [s["url"] for s in sources] == [first[0], second[0], first[1]]
    assert [s["read"] for s in sources] == [True, True, False]
    assert sources[0]["text"] == f"About {slug(question)}-a {fact(slug(question) + '-a')}"
    assert "not text" not in sources[0]["text"]  # the page's script was dropped
    assert sources[2]["text"] == f"Snippet b for {question}"

    # The report: the model's text, then every source cited by number with its URL.
    [result] = done["results"]
    report = result["text"]
    assert result["kind"] == "report" and result["path"] == f"users/{user.user_id}/jobs/{job['id']}/report.md"
    assert report.startswith(f"# {question}\n") and "alpha delta echo" in report
    for n, source in enumerate(sources, start=1):
        assert f"{n}. [{source['title']}]({source['url']})" in report
    assert httpx.get(result["url"], timeout=10).text == report
    bucket = storage_client().bucket(jobs_stack.settings.jobs_bucket)
    assert bucket.blob(result["path"]).download_as_text() == report

    # The report call saw the sources' text, numbered.
    plan_call, report_call = model_calls(fake_provider, tag)
    prompt = report_call["messages"][-1]["content"]
    assert f"[1] Page {slug(question)}-a" in prompt and fact(slug(question) + "-a") in prompt

    # Money: each model step its real tokens, each search the search price, reading nothing.
    costs = step_costs(job["id"])
    assert costs == {
        0: model_cost(plan_call, 12),
        1: SEARCH_PRICE,
        2: SEARCH_PRICE,
        3: 0,
        4: model_cost(report_call, 12),
    }
    spent = sum(costs.values())
    assert done["spent"] == spent < done["reserved"]
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - spent, "reserved": 0}
    assert hold_of(job["id"])["charged"] == spent


def test_a_research_step_delivered_twice_has_one_effect_and_one_charge(
    jobs_client: httpx.Client,
    jobs_user: Callable[[], User],
    jobs_stack: JobsStack,
    fake_search: FakeSearch,
    fake_provider: FakeProvider,
) -> None:
    user = jobs_user()
    tag = word()
    fake_search.delay(tag, 1.5)  # the first search is still running when the duplicates arrive
    job = start(jobs_client, user, f"Why is the sky blue {tag} today?")
    wait_for_job(jobs_client, user, job["id"], lambda j: j["step"] >= 1, timeout=30)
    assert deliver(jobs_stack, job["id"], 0).json()["result"] == "duplicate"  # the plan is done
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: deliver(jobs_stack, job["id"], 1), range(3)))
    assert all(a.status_code in (200, 409) for a in answers), [a.text for a in answers]
    assert {a.json()["result"] for a in answers} <= {"busy", "duplicate", "next"}

    done = wait_for_job(jobs_client, user, job["id"], finished, timeout=60)
    assert done["state"] == "succeeded", done
    assert fake_search.calls(tag) == 1
    assert len(model_calls(fake_provider, tag)) == 2
    costs = step_costs(job["id"])
    assert sorted(costs) == [0, 1, 2, 3, 4] and costs[1] == costs[2] == SEARCH_PRICE
    assert done["spent"] == sum(costs.values())
    settled = wait_settled(jobs_client, user.headers)
    assert settled == {"available": WELCOME - done["spent"], "reserved": 0}
    for step in range(5):  # late duplicates of every step change nothing
        assert deliver(jobs_stack, job["id"], step).json()["result"] == "finished"
    assert fake_search.calls(tag) == 1 and len(model_calls(fake_provider, tag)) == 2
    assert wait_settled(jobs_client, user.headers) == settled
    assert hold_of(job["id"])["charged"] == done["spent"]


def test_cancel_mid_research_keeps_what_was_spent_and_releases_the_rest(
    jobs_client: httpx.Client,
    jobs_user: Callable[[], User],
    fake_search: FakeSearch,
    fake_provider: FakeProvider,
) -> None:
    user = jobs_user()
    tag = word()
    fake_search.delay(tag, 2.0)
    job = start(jobs_client, user, f"What is a neutron star {tag} today?")
    searching(fake_search, tag)
    cancelled = jobs_client.delete(f"/v1/jobs/{job['id']}", headers=user.headers)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    spent = cancelled.json()["spent"]
    assert spent == step_costs(job["id"])[0] > 0  # the plan only
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - spent, "reserved": 0}

    time.sleep(3)  # the search running at cancel time ends now, and must change nothing
    again = jobs_client.get(f"/v1/jobs/{job['id']}", headers=user.headers).json()
    assert again["state"] == "cancelled" and again["spent"] == spent and again["results"] == []
    assert sorted(step_costs(job["id"])) == [0]
    assert fake_search.calls(tag) == 1 and len(model_calls(fake_provider, tag)) == 1
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - spent, "reserved": 0}
    assert hold_of(job["id"])["charged"] == spent


def test_research_past_its_deadline_fails_and_keeps_only_what_it_spent(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_search: FakeSearch
) -> None:
    import datetime as dt

    user = jobs_user()
    tag = word()
    fake_search.delay(tag, 1.5)
    job = start(jobs_client, user, f"Who built the pyramids {tag} today?")
    searching(fake_search, tag)
    # While the first search runs, the deadline passes: that search still counts, nothing after it runs.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db().collection("jobs").document(job["id"]).update({"deadline": past})
    done = wait_for_job(jobs_client, user, job["id"], finished, timeout=30)
    assert done["state"] == "failed" and done["error"]["code"] == "deadline_exceeded", done
    costs = step_costs(job["id"])
    assert sorted(costs) == [0, 1] and costs[1] == SEARCH_PRICE
    assert done["spent"] == sum(costs.values()) and done["results"] == []
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - done["spent"], "reserved": 0}
    assert hold_of(job["id"])["charged"] == done["spent"]


def test_a_refused_search_fails_the_job_and_bad_requests_reserve_nothing(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], fake_search: FakeSearch
) -> None:
    user = jobs_user()
    tag = word()
    fake_search.always(tag, 400)  # refused every time: not retried
    job = start(jobs_client, user, f"Is this allowed {tag} today?")
    done = wait_for_job(jobs_client, user, job["id"], finished, timeout=30)
    assert done["state"] == "failed" and done["error"]["code"] == "search_failed", done
    assert fake_search.calls(tag) == 1
    plan_cost = step_costs(job["id"])[0]
    assert done["spent"] == plan_cost
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - plan_cost, "reserved": 0}

    other = jobs_user()
    for spec, status, code in [
        ({"question": "x"}, 422, "invalid_request"),
        ({"question": "what is it", "max_sources": 11}, 422, "invalid_request"),
        ({"question": "what is it", "model": "nope"}, 404, "model_not_found"),
    ]:
        response = jobs_client.post(
            "/v1/jobs", headers=other.headers, json={"type": "research", "input": spec}
        )
        assert response.status_code == status, (spec, response.text)
        assert response.json()["error"]["code"] == code, (spec, response.text)
    assert wait_settled(jobs_client, other.headers) == {"available": WELCOME, "reserved": 0}
