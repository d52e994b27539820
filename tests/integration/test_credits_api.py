"""GET /v1/credits and /v1/credits/ledger over HTTP: welcome grant, entries newest first, pagination."""

from __future__ import annotations

import httpx

from tests.support.helpers import User


def test_new_account_has_the_welcome_grant(client: httpx.Client, user: User) -> None:
    assert client.get("/v1/credits", headers=user.headers).json() == {
        "available": 1_000_000,
        "reserved": 0,
        "email_verified": True,
        "notice": None,
    }
    entries = client.get("/v1/credits/ledger", headers=user.headers).json()
    assert entries["object"] == "list"
    assert [(e["kind"], e["amount"]) for e in entries["data"]] == [("grant", 1_000_000)]


def test_ledger_lists_every_movement_newest_first_in_pages(client: httpx.Client, user: User) -> None:
    for _ in range(3):
        response = client.post(
            "/v1/chat/completions",
            headers=user.headers,
            json={"model": "fake-echo", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 200
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/credits/ledger", params=params, headers=user.headers).json()
        assert len(page["data"]) <= 2
        seen += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    kinds = [e["kind"] for e in seen]
    assert kinds[-1] == "grant"
    assert kinds.count("reserve") == 3 and kinds.count("settle") == 3
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)


def test_bad_paging_is_refused(client: httpx.Client, user: User) -> None:
    for params, status in (({"limit": 0}, 422), ({"limit": 1000}, 422), ({"cursor": "not-a-cursor"}, 400)):
        response = client.get("/v1/credits/ledger", params=params, headers=user.headers)
        assert response.status_code == status, response.text
        assert set(response.json()["error"]) == {"type", "code", "message"}


def test_credits_need_authentication(client: httpx.Client) -> None:
    assert client.get("/v1/credits").status_code == 401
    assert client.get("/v1/credits", headers={"Authorization": "Bearer nonsense"}).status_code == 401
