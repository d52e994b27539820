"""Helpers of the API fuzz (tests/integration/test_api_fuzz.py): a plan without limits for the fuzzing
account, and one of everything a path can name, created through the API so that every operation of the
OpenAPI document is reached with ids that exist."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

FUZZ_PLAN = "fuzz"
PASSWORD = "correct horse battery staple"


def unlimited_plans(shipped: Path, dest: Path) -> Path:
    """The shipped plans plus `fuzz`, a plan with no rate limit and no budget (absent means none), so a
    fuzzing account that makes hundreds of calls a minute is never refused with a 429."""
    dest.write_text(shipped.read_text() + f"\n[plans.{FUZZ_PLAN}]\n")
    return dest


@dataclass
class Account:
    """A registered user, their bearer headers, and the id of one thing of each kind they own, keyed by
    the name of the path parameter that names it."""

    user_id: str
    email: str
    headers: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)


def _ok(response: httpx.Response, *statuses: int) -> dict[str, object]:
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    body: dict[str, object] = response.json()
    return body


def register(client: httpx.Client) -> Account:
    email = f"fz{uuid.uuid4().hex[:12]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    _ok(client.post("/v1/auth/register", json=credentials), 202)
    body = _ok(client.post("/v1/auth/login", json=credentials), 200)
    user = body["user"]
    assert isinstance(user, dict)
    return Account(str(user["id"]), str(user["email"]), {"Authorization": f"Bearer {body['access_token']}"})


def _invite(client: httpx.Client, account: Account, email: str) -> dict[str, object]:
    workspace_id = account.ids["workspace_id"]
    body = {"email": email, "role": "member"}
    return _ok(
        client.post(f"/v1/workspaces/{workspace_id}/invitations", json=body, headers=account.headers), 201
    )


def seed(client: httpx.Client) -> Account:
    """A model id, and a user with a thread, a template, a stored response, a workspace with a second
    member (whose id fills `user_id`, so changing and removing a member are reached) and a pending
    invitation, an API key and a job. The job is cancelled at once, so its events stream ends after one
    event."""
    account = register(client)
    h = account.headers
    thread = _ok(client.post("/v1/threads", json={"title": "fuzz"}, headers=h), 201)
    account.ids["thread_id"] = str(thread["id"])
    workspace = _ok(client.post("/v1/workspaces", json={"name": "fuzz"}, headers=h), 201)
    account.ids["workspace_id"] = str(workspace["id"])
    member = register(client)
    token = _invite(client, account, member.email)["token"]
    _ok(client.post("/v1/workspaces/invitations/accept", json={"token": token}, headers=member.headers), 200)
    account.ids["user_id"] = member.user_id
    account.ids["invite_id"] = str(_invite(client, account, f"fz{uuid.uuid4().hex[:12]}@example.com")["id"])
    key = _ok(client.post("/v1/api-keys", json={"name": "fuzz"}, headers=h), 201)
    account.ids["key_id"] = str(key["id"])
    job = _ok(
        client.post(
            "/v1/jobs",
            json={"type": "export", "input": {"source": {"thread_id": thread["id"]}, "formats": ["pdf"]}},
            headers=h,
        ),
        202,
    )
    account.ids["job_id"] = str(job["id"])
    account.ids["model_id"] = "fake-echo"  # a model of the test catalog (GET /v1/models/{model_id})
    template = {"name": "fuzz", "body": "Say {{word}}.", "variables": {"word": "a word"}}
    account.ids["template_id"] = str(_ok(client.post("/v1/templates", json=template, headers=h), 201)["id"])
    upload = {"file": ("fuzz.txt", b"fuzz text", "text/plain")}
    file = _ok(client.post("/v1/files", files=upload, data={"purpose": "user_data"}, headers=h), 200)
    account.ids["file_id"] = str(file["id"])
    # A pending upload (its parts, complete and cancel are fuzzed; nothing is PUT to its signed URL).
    pending = {"filename": "fuzz.txt", "purpose": "user_data", "bytes": 9, "mime_type": "text/plain"}
    account.ids["upload_id"] = str(_ok(client.post("/v1/uploads", json=pending, headers=h), 200)["id"])
    # A vector store holding the file (its ingestion job is cancelled at once, with the export's).
    store = _ok(client.post("/v1/vector_stores", json={"file_ids": [file["id"]]}, headers=h), 200)
    account.ids["vector_store_id"] = str(store["id"])
    batch = {"file_ids": [file["id"]]}
    path = f"/v1/vector_stores/{store['id']}/file_batches"
    account.ids["batch_id"] = str(_ok(client.post(path, json=batch, headers=h), 200)["id"])
    stored = {"model": "fake-echo", "input": "fuzz", "max_output_tokens": 2}
    account.ids["response_id"] = str(_ok(client.post("/v1/responses", json=stored, headers=h), 200)["id"])
    assistant = {"model": "fake-echo", "name": "fuzz"}
    account.ids["assistant_id"] = str(
        _ok(client.post("/v1/assistants", json=assistant, headers=h), 200)["id"]
    )
    _ok(client.delete(f"/v1/jobs/{job['id']}", headers=h), 200)
    return account
