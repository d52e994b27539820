"""Many users at once, each with 5 concurrent requests on their own wallet: no overspend, no lost update."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.helpers import User, balance, drain_to, usage_for, wait_settled

USERS = 8
PER_USER = 5


def one_call(api: str, user: User, request_id: str, stream: bool) -> httpx.Response:
    with httpx.Client(base_url=api, timeout=120) as c:
        return c.post(
            "/v1/chat/completions",
            headers={**user.headers, "X-Request-ID": request_id},
            json={
                "model": "fake-echo",
                "max_tokens": 6,
                "stream": stream,
                "messages": [{"role": "user", "content": "count with me"}],
            },
        )


def test_concurrent_requests_settle_every_credit(
    api: str, client: httpx.Client, make_user: Callable[..., User]
) -> None:
    users = [make_user() for _ in range(USERS)]
    jobs = [(u, f"{u.user_id}-{i}", i % 2 == 0) for u in users for i in range(PER_USER)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        responses = list(pool.map(lambda job: one_call(api, *job), jobs))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    for user in users:
        charged = sum(usage_for(f"{user.user_id}-{i}")["credits"] for i in range(PER_USER))
        assert charged > 0
        assert wait_settled(client, user.headers) == {"available": 1_000_000 - charged, "reserved": 0}


def test_concurrent_requests_never_overspend(
    api: str, client: httpx.Client, user: User, settings: object
) -> None:
    # Room for about two calls: five at once must not all get through.
    first = one_call(api, user, f"{user.user_id}-probe", stream=False)
    per_call = first.json()["credits"] + 2
    drain_to(settings, user.user_id, leave=2 * per_call)  # type: ignore[arg-type]
    start = balance(client, user.headers)["available"]
    ids = [f"{user.user_id}-x{i}" for i in range(PER_USER)]
    with ThreadPoolExecutor(max_workers=PER_USER) as pool:
        responses = list(pool.map(lambda rid: one_call(api, user, rid, False), ids))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 402}
    assert 402 in statuses, "some request must be refused: the balance covers about two"
    charged = sum(r.json()["credits"] for r in responses if r.status_code == 200)
    # Non-streaming calls settle before they answer, so the balance is final here.
    assert balance(client, user.headers)["available"] == start - charged >= 0
