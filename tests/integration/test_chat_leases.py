"""Chat calls through the API with credit leases on (the rest of the suite runs with them off): the calls
succeed from an in-memory lease, their usage records reach Firestore with a flush, and once the idle lease
is closed the balance is the start minus the sum of the records' credits, exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from run_services.api.main import create_app
from shared.settings import Settings
from tests.support.helpers import User, balance, rid, sign_up, usage_for, wait_settled
from tests.support.servers import ServerThread

MESSAGES = [{"role": "user", "content": "say something nice"}]


@pytest.fixture(scope="module")
def leased_api(settings: Settings) -> Iterator[str]:
    on = settings.model_copy(
        update={
            "credit_lease_credits": 50_000,
            "credit_lease_flush_s": 0.2,
            "credit_lease_idle_s": 3.0,
        }
    )
    with ServerThread(create_app(on)) as server:
        yield server.url


@pytest.fixture
def leased(leased_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=leased_api, timeout=60) as c:
        yield c


def chat(client: httpx.Client, user: User, **body: Any) -> httpx.Response:
    return client.post(
        "/v1/chat/completions",
        json={"messages": MESSAGES, "model": "fake-echo", **body},
        headers={**user.headers, **rid()},
    )


def test_leased_calls_are_recorded_by_the_flush_and_charged_exactly_at_the_idle_close(
    leased: httpx.Client,
) -> None:
    user = sign_up(leased)
    start = balance(leased, user.headers)["available"]
    answers = [chat(leased, user, max_tokens=n) for n in (3, 5, 8)]
    with leased.stream(
        "POST",
        "/v1/chat/completions",
        json={"messages": MESSAGES, "model": "fake-echo", "max_tokens": 6, "stream": True},
        headers={**user.headers, **rid()},
    ) as streamed:
        assert streamed.status_code == 200
        lines = [line for line in streamed.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    # While the lease is open its hold is what the ledger shows reserved: one lease, not a hold per call.
    assert balance(leased, user.headers)["reserved"] == 50_000
    request_ids = [a.headers["x-request-id"] for a in answers] + [streamed.headers["x-request-id"]]
    records = [usage_for(r) for r in request_ids]  # written by the flush, in the lease's transaction
    assert all(r["credits"] > 0 and r["outcome"] == "ok" for r in records)
    assert [r["credits"] for r in records[:3]] == [a.json()["credits"] for a in answers]
    after = wait_settled(leased, user.headers)  # the lease went idle and was settled
    assert after == {"available": start - sum(r["credits"] for r in records), "reserved": 0}
