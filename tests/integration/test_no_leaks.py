"""Seeded secrets and personal data through every door (issue 16, item 2): they reach the provider and the
answer, and never a log line. The check itself is the session-wide log scan of tests/support/leaks.py,
which also scans every other test's log lines (it fails the whole run on a leak); the tests here make
sure the canaries really travel the paths that could log them, errors included."""

from __future__ import annotations

import time
import uuid

import httpx
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.fakes.provider import FakeProvider
from tests.support.helpers import User, db, rid, sse_events
from tests.support.leaks import (
    CANARY_CARD,
    CANARY_EMAIL,
    CANARY_NID,
    CANARY_PROMPT,
    CANARY_SECRET,
    leaks_in,
    redact,
)

SEEDED = (
    f"{CANARY_PROMPT}: my card {CANARY_CARD}, NID {CANARY_NID}, token {CANARY_SECRET}, mail {CANARY_EMAIL}"
)


def chat(client: httpx.Client, user: User, **body: object) -> httpx.Response:
    body = {"model": "fake-echo", "messages": [{"role": "user", "content": SEEDED}], "max_tokens": 8, **body}
    return client.post("/v1/chat/completions", json=body, headers={**user.headers, **rid()})


def test_canaries_travel_every_door(client: httpx.Client, user: User, fake_provider: FakeProvider) -> None:
    sent_before = len(fake_provider.calls_for("fake-echo"))
    assert chat(client, user).status_code == 200
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": "fake-echo", "messages": [{"role": "user", "content": SEEDED}], "stream": True},
        headers=user.headers,
    ) as r:
        assert r.status_code == 200 and sse_events(list(r.iter_lines()))
    messages = {"model": "fake-echo", "max_tokens": 8, "messages": [{"role": "user", "content": SEEDED}]}
    assert client.post("/v1/messages", json=messages, headers=user.headers).status_code == 200
    embedded = client.post(
        "/v1/embeddings",
        json={"model": "fake-embed", "input": [CANARY_PROMPT, CANARY_CARD]},
        headers=user.headers,
    )
    assert embedded.status_code == 200, embedded.text
    thread = client.post("/v1/threads", json={"title": SEEDED[:60]}, headers=user.headers).json()["id"]
    with client.stream(
        "POST",
        f"/v1/threads/{thread}/messages",
        json={"content": SEEDED, "model": "fake-echo", "max_tokens": 3},
        headers=user.headers,
    ) as r:
        assert r.status_code == 200
        list(r.iter_lines())
    reached = [c for c in fake_provider.calls_for("fake-echo")[sent_before:] if CANARY_PROMPT in str(c.body)]
    assert len(reached) >= 4  # chat twice, messages, the thread: the provider saw the prompt each time
    # Usage records and the audit trail keep counts, prices and ids: none of the content.
    time.sleep(0.5)  # the last stream's record is written right after its answer
    kept = [
        d.to_dict()
        for d in db().collection("usage").where(filter=FieldFilter("user_id", "==", user.user_id)).stream()
    ]
    kept += [
        d.to_dict()
        for d in db().collection("audit").where(filter=FieldFilter("account", "==", user.user_id)).stream()
    ]
    assert len(kept) >= 5 and not leaks_in(str(kept)), redact(str(kept))[:300]


def test_canaries_in_refused_requests(client: httpx.Client, user: User) -> None:
    # Errors are where content slips into logs: an unknown model, a bad parameter, a body that is no JSON.
    assert chat(client, user, model=SEEDED[:100]).status_code in (400, 404)
    assert chat(client, user, temperature=SEEDED).status_code in (400, 422)
    raw = client.post(
        "/v1/chat/completions",
        content=SEEDED.encode(),
        headers={**user.headers, "content-type": "application/json"},
    )
    assert raw.status_code in (400, 422)
    tools = [{"type": "function", "function": {"name": "x", "parameters": {"description": SEEDED}}}]
    assert (
        chat(
            client, user, tools=tools, tool_choice={"type": "function", "function": {"name": SEEDED[:40]}}
        ).status_code
        == 400
    )


def test_canary_addresses_at_the_auth_doors(client: httpx.Client) -> None:
    unique = f"{uuid.uuid4().hex[:6]}.{CANARY_EMAIL}"
    where = {"X-Forwarded-For": f"192.0.2.{uuid.uuid4().int % 250}"}
    assert (
        client.post(
            "/v1/auth/register", json={"email": unique, "password": SEEDED}, headers=where
        ).status_code
        == 202
    )
    wrong = {"email": unique, "password": "not the password at all"}
    assert client.post("/v1/auth/login", json=wrong, headers=where).status_code == 401
    bad = {"email": f"not-an-address {CANARY_SECRET}", "password": "x"}
    assert client.post("/v1/auth/login", json=bad, headers=where).status_code in (400, 401, 422)


def test_the_scan_finds_what_it_looks_for() -> None:
    line = '{"severity": "INFO", "message": "hello", "logger": "x"'
    assert leaks_in(line + "}") == []
    assert leaks_in(line + ', "email": "someone@example.com"}') == ["email address"]
    assert leaks_in(line + ', "signer": "local-signer@demo-local.iam.gserviceaccount.com"}') == []
    assert leaks_in(line + ', "key": "sk-' + "a" * 40 + '"}') == ["api key"]
    assert leaks_in(line + ', "h": "Bearer eyJhbGciOiJIUzI1NiJ9.abc.def"}') == ["bearer token"]
    assert leaks_in(f'{line}, "prompt": "{CANARY_PROMPT}"}}') == ["canary 0"]
    assert leaks_in(f'{line}, "nid": "{CANARY_NID}"}}') == ["canary 2"]
    assert CANARY_EMAIL not in redact(f"to {CANARY_EMAIL} and {CANARY_SECRET}")
