"""DELETE /v1/me (issue 16, item 4): the account's content and credentials go, its ledger, payments,
usage and audit trail stay without the email address; refusals change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.account.deletion import CONFIRMATION, tombstone_email
from tests.integration.test_jobs_export import export, make_thread
from tests.integration.test_templates import MINE
from tests.support.helpers import User, assert_error, db
from tests.support.jobs import JobsStack, finished, storage_client, wait_for_job
from tests.support.knowledge import chunks_where, store_files_of
from tests.support.workspaces import create, join

CONFIRM = {"confirm": CONFIRMATION}


def delete_me(
    client: httpx.Client, headers: dict[str, str], body: dict[str, Any] | None = None
) -> httpx.Response:
    return client.request("DELETE", "/v1/me", json=body, headers=headers)


def objects(stack: JobsStack, user: User) -> list[str]:
    bucket = storage_client().bucket(stack.settings.jobs_bucket)
    return [b.name for b in bucket.list_blobs(prefix=f"users/{user.user_id}/")]


def index_objects(stack: JobsStack, store_id: str) -> list[str]:
    """The store's keyword indexes saved in the bucket (shared/knowledge/keyword_index.py)."""
    bucket = storage_client().bucket(stack.settings.jobs_bucket)
    return [b.name for b in bucket.list_blobs(prefix=f"vector_stores/{store_id}/")]


def threads_of(user: User) -> list[str]:
    return [
        s.id
        for s in db().collection("threads").where(filter=FieldFilter("user_id", "==", user.user_id)).stream()
    ]


def test_deleting_an_account_removes_its_content_and_keeps_its_books(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack
) -> None:
    client = jobs_client
    user, owner = jobs_user(), jobs_user()
    thread_id = make_thread(client, user, "private notes")
    job = wait_for_job(
        client, user, export(client, user, {"thread_id": thread_id}, ["pdf"]).json()["id"], finished
    )
    assert job["state"] == "succeeded" and objects(jobs_stack, user)
    uploaded = client.post(
        "/v1/files",
        files={"file": ("n.txt", b"my notes")},
        data={"purpose": "user_data"},
        headers=user.headers,
    ).json()
    assert f"users/{user.user_id}/files/{uploaded['id']}" in objects(jobs_stack, user)
    pending = {"filename": "big.txt", "purpose": "user_data", "bytes": 4, "mime_type": "text/plain"}
    upload = client.post("/v1/uploads", json=pending, headers=user.headers).json()
    put = httpx.put(upload["upload_url"], content=b"half", headers=upload["upload_headers"])
    assert put.status_code == 200
    store = client.post("/v1/vector_stores", json={"file_ids": [uploaded["id"]]}, headers=user.headers).json()
    wait_for_job(client, user, store_files_of(store["id"])[0]["job_id"], finished)
    assert chunks_where("store_id", store["id"])
    assert index_objects(jobs_stack, store["id"])  # the ingestion saved the store's keyword index
    key = client.post("/v1/api-keys", json={"name": "laptop"}, headers=user.headers).json()["key"]
    template = client.post("/v1/templates", json=MINE, headers=user.headers)
    assert template.status_code == 201, template.text
    second = client.post("/v1/auth/login", json={"email": user.email, "password": user.password}).json()
    ws = create(client, owner)["id"]
    join(client, owner, ws, user)
    before_wallet = db().collection("wallets").document(user.user_id).get().to_dict()

    # Refusals first: nothing changes.
    assert_error(delete_me(client, user.headers), 400, "confirmation_required")
    assert_error(delete_me(client, {"Authorization": f"Bearer {key}"}, CONFIRM), 403, "session_required")
    assert threads_of(user) == [thread_id] and objects(jobs_stack, user)

    deleted = delete_me(client, user.headers, CONFIRM)
    assert deleted.status_code == 200, deleted.text
    report = deleted.json()
    assert report["threads"] == 1 and report["jobs"] == 2 and report["objects"] >= 1  # export, indexing
    assert report["api_keys"] == 1 and report["sessions"] >= 2 and report["workspaces_left"] == 1
    assert report["files"] == 1 and report["objects"] >= 2 and report["templates"] == 1
    assert not db().collection("templates").document(template.json()["id"]).get().exists
    assert report["vector_stores"] == 1
    assert chunks_where("store_id", store["id"]) == [] and store_files_of(store["id"]) == []
    assert not db().collection("vector_stores").document(store["id"]).get().exists
    assert index_objects(jobs_stack, store["id"]) == []
    assert not db().collection("files").document(uploaded["id"]).get().exists
    assert not db().collection("uploads").document(upload["id"]).get().exists
    assert not db().collection("file_usage").document(f"user_{user.user_id}").get().exists

    # The content is gone: threads and their messages, jobs, the bucket's objects, the membership.
    assert threads_of(user) == [] and objects(jobs_stack, user) == []
    assert not list(db().collection("threads").document(thread_id).collection("messages").stream())
    assert not db().collection("jobs").document(job["id"]).get().exists
    members = client.get(f"/v1/workspaces/{ws}/members", headers=owner.headers).json()["data"]
    assert [m["user_id"] for m in members] == [owner.user_id]
    # No credential of the account works any more.
    for headers in (user.headers, {"Authorization": f"Bearer {key}"}):
        assert client.get("/v1/credits", headers=headers).status_code == 401
    refreshed = client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert refreshed.status_code == 401
    assert (
        client.post("/v1/auth/login", json={"email": user.email, "password": user.password}).status_code
        == 401
    )
    # The books stay, without the person.
    tomb = db().collection("users").document(user.user_id).get().to_dict() or {}
    assert tomb["email"] == tombstone_email(user.user_id) and tomb["password_hash"] is None
    assert tomb["state"] == "deleted" and user.email not in str(tomb)
    assert not db().collection("user_emails").document(user.email).get().exists
    assert db().collection("wallets").document(user.user_id).get().to_dict() == before_wallet
    trail = db().collection("audit").where(filter=FieldFilter("account", "==", user.user_id)).stream()
    entries = {e.to_dict()["action"]: e.to_dict() for e in trail}
    assert entries["account.delete"]["details"]["threads"] == 1
    # The address is free again: a new account, with nothing of the old one.
    again = client.post("/v1/auth/register", json={"email": user.email, "password": "a new long password"})
    assert again.status_code == 202, again.text


def test_an_owner_hands_over_first(jobs_client: httpx.Client, jobs_user: Callable[[], User]) -> None:
    owner, member = jobs_user(), jobs_user()
    ws = create(jobs_client, owner)["id"]
    join(jobs_client, owner, ws, member)
    refused = delete_me(jobs_client, owner.headers, CONFIRM)
    assert_error(refused, 409, "ownership_transfer_needed")
    assert ws in refused.json()["error"]["message"]
    assert jobs_client.get(f"/v1/workspaces/{ws}", headers=owner.headers).status_code == 200
    assert jobs_client.get("/v1/credits", headers=owner.headers).status_code == 200  # nothing happened
    promoted = jobs_client.patch(
        f"/v1/workspaces/{ws}/members/{member.user_id}", json={"role": "owner"}, headers=owner.headers
    )
    assert promoted.status_code == 200, promoted.text
    assert_error(
        delete_me(jobs_client, owner.headers, CONFIRM), 409, "ownership_transfer_needed"
    )  # still one
    stepped_down = jobs_client.patch(
        f"/v1/workspaces/{ws}/members/{owner.user_id}", json={"role": "member"}, headers=owner.headers
    )
    assert stepped_down.status_code == 200, stepped_down.text
    assert delete_me(jobs_client, owner.headers, CONFIRM).status_code == 200
    assert jobs_client.get(f"/v1/workspaces/{ws}", headers=member.headers).json()["members"] == 1
