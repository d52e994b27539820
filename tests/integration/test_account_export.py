"""POST/GET /v1/me/export (issue 16, item 4): a free job that zips everything the account holds, handed
out through a signed URL; nobody else's export, no secret in it."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import httpx

from shared.auth.tokens import digest
from tests.integration.test_jobs_export import make_thread
from tests.integration.test_templates import MINE
from tests.support.helpers import User, assert_error, balance
from tests.support.jobs import finished, wait_for_job


def test_an_export_holds_the_account_and_costs_nothing(
    jobs_client: httpx.Client, jobs_user: Callable[[], User]
) -> None:
    client = jobs_client
    user, other = jobs_user(), jobs_user()
    thread_id = make_thread(client, user, "my notes")
    key = client.post("/v1/api-keys", json={"name": "laptop"}, headers=user.headers).json()["key"]
    template = client.post("/v1/templates", json=MINE, headers=user.headers).json()
    uploaded = client.post(
        "/v1/files", files={"file": ("n.md", b"# Notes")}, data={"purpose": "user_data"}, headers=user.headers
    ).json()
    assert_error(client.get("/v1/me/export", headers=user.headers), 404, "no_export")
    before = balance(client, user.headers)

    started = client.post("/v1/me/export", headers=user.headers)
    assert started.status_code == 202, started.text
    again = client.post("/v1/me/export", headers=user.headers).json()
    job = wait_for_job(client, user, started.json()["id"], finished)
    assert job["state"] == "succeeded", job
    assert job["reserved"] == job["spent"] == 0 and balance(client, user.headers) == before
    if again["state"] not in ("succeeded", "failed"):  # asked while the first ran: the same export
        assert again["id"] == job["id"]

    shown = client.get("/v1/me/export", headers=user.headers).json()
    assert shown["id"] == job["id"] and shown["results"][0]["content_type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(shown["results"][0]["url"], timeout=10).content))
    names = set(archive.namelist())
    assert {"README.txt", "account.json", "threads.json", "jobs.json", "ledger.json", "audit.json"} <= names
    account = json.loads(archive.read("account.json"))
    assert account["id"] == user.user_id and account["email"] == user.email
    threads = json.loads(archive.read("threads.json"))
    assert [t["id"] for t in threads] == [thread_id]
    assert threads[0]["messages"][0]["content"] == "Plan a day in Київ"
    ledger = json.loads(archive.read("ledger.json"))
    assert ledger and ledger[0]["kind"] == "grant"
    keys = json.loads(archive.read("api_keys.json"))
    assert [k["name"] for k in keys] == ["laptop"] and keys[0]["last4"] == key[-4:]
    everything = b"".join(archive.read(n) for n in names).decode()
    assert key not in everything and digest(key) not in everything and "password_hash" not in everything
    assert "auth.sign_in" in archive.read("audit.json").decode()
    assert [t["id"] for t in json.loads(archive.read("templates.json"))] == [template["id"]]
    files = json.loads(archive.read("files.json"))
    assert [(f["id"], f["filename"], f["type"], f["bytes"]) for f in files] == [
        (uploaded["id"], "n.md", "md", 7)
    ]

    trail = client.get("/v1/me/audit", params={"action": "account.export"}, headers=user.headers).json()
    assert [e["target"] for e in trail["data"]] == [job["id"]]  # one export started, one entry

    # Somebody else: no export of theirs, and this one is not theirs to read.
    assert_error(client.get("/v1/me/export", headers=other.headers), 404, "no_export")
    assert client.get(f"/v1/jobs/{job['id']}", headers=other.headers).status_code == 404


def test_export_takes_no_input(jobs_client: httpx.Client, jobs_user: Callable[[], User]) -> None:
    user = jobs_user()
    bad = jobs_client.post(
        "/v1/jobs",
        json={"type": "account_export", "input": {"user_id": "someone-else"}},
        headers=user.headers,
    )
    assert bad.status_code in (400, 422), bad.text
    assert_error(jobs_client.get("/v1/me/export", headers=user.headers), 404, "no_export")
