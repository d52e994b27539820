"""The Uploads API (issue 14, item 1): a file's bytes go straight to Cloud Storage through the signed URL
(a real PUT to the Storage emulator), or as parts through the official openai SDK unchanged
(`uploads.create` / `parts.create` / `complete`, and `upload_file_chunked`); complete makes them a File
of the usual shape, counted in the quota, and a second complete answers the same file."""

from __future__ import annotations

import hashlib

import httpx
import openai
import pytest

from shared.settings import Settings
from tests.support.files import docx_bytes, file_docs, stored_objects, usage_of
from tests.support.helpers import User, assert_error, db, sign_up
from tests.support.workspaces import create, join


@pytest.fixture
def bucket(settings: Settings) -> str:
    return settings.jobs_bucket


@pytest.fixture
def sdk(api: str, user: User) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api}/v1", api_key=user.access_token, max_retries=0)


def start(client: httpx.Client, user: User, size: int, name: str = "big.txt") -> dict[str, object]:
    body = {"filename": name, "purpose": "assistants", "bytes": size, "mime_type": "text/plain"}
    answer = client.post("/v1/uploads", json=body, headers=user.headers)
    assert answer.status_code == 200, answer.text
    made: dict[str, object] = answer.json()
    return made


def put(made: dict[str, object], data: bytes) -> httpx.Response:
    headers = made["upload_headers"]
    assert isinstance(headers, dict)
    return httpx.put(str(made["upload_url"]), content=data, headers=headers, timeout=60)


def test_signed_put_then_complete(client: httpx.Client, user: User, bucket: str) -> None:
    data = b"# Big notes\n\n" + b"- a line of notes\n" * 200_000  # 3.6 MB of Markdown
    made = start(client, user, len(data), "notes.md")
    assert str(made["id"]).startswith("upload_") and made["status"] == "pending"
    assert made["object"] == "upload" and made["bytes"] == len(data) and made["file"] is None
    assert int(str(made["expires_at"])) - int(str(made["created_at"])) == 3600
    assert made["upload_headers"] == {"x-goog-content-length-range": f"{len(data)},{len(data)}"}
    url = str(made["upload_url"])
    assert "X-Goog-Signature=" in url and f"/uploads/{made['id']}/data" in url
    assert put(made, data).status_code == 200  # through the signed URL, not through the API

    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    path = f"/v1/uploads/{made['id']}/complete"
    done = client.post(path, json={"part_ids": [], "md5": md5}, headers=user.headers)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "completed"
    file = body["file"]
    assert file["id"].startswith("file-") and file["bytes"] == len(data)
    assert (file["filename"], file["purpose"], file["type"]) == ("notes.md", "assistants", "md")
    content = client.get(f"/v1/files/{file['id']}/content", headers=user.headers)
    assert content.content == data
    assert usage_of(f"user_{user.user_id}") == {"count": 1, "bytes": len(data)}
    # The upload's own objects are gone; only the file's remains.
    assert stored_objects(bucket, f"users/{user.user_id}/") == [f"users/{user.user_id}/files/{file['id']}"]
    # Idempotent: completing again answers the same file and takes no second slot.
    again = client.post(path, json={"part_ids": []}, headers=user.headers)
    assert again.status_code == 200 and again.json()["file"]["id"] == file["id"]
    assert len(file_docs(f"user_{user.user_id}")) == 1
    assert usage_of(f"user_{user.user_id}")["count"] == 1
    # A completed upload cannot be cancelled.
    cancel = client.post(f"/v1/uploads/{made['id']}/cancel", headers=user.headers)
    assert cancel.status_code == 400 and cancel.json()["error"]["code"] == "upload_not_pending"


def test_a_docx_is_sniffed_by_ranged_reads(client: httpx.Client, user: User) -> None:
    data = docx_bytes()
    made = start(client, user, len(data), "w.docx")
    assert put(made, data).status_code == 200
    done = client.post(f"/v1/uploads/{made['id']}/complete", json={}, headers=user.headers)
    assert done.status_code == 200, done.text
    assert done.json()["file"]["type"] == "docx"


def test_sdk_parts_in_the_given_order(sdk: openai.OpenAI, user: User, bucket: str) -> None:
    chunks = [b"first part\n" * 10, b"second part\n" * 10, b"third part\n" * 10]
    whole = b"".join(chunks)
    upload = sdk.uploads.create(
        bytes=len(whole), filename="parts.txt", mime_type="text/plain", purpose="assistants"
    )
    assert upload.status == "pending"
    sent = {i: sdk.uploads.parts.create(upload.id, data=chunks[i]) for i in (2, 0, 1)}
    parts = [sent[i] for i in range(3)]
    assert all(p.object == "upload.part" and p.upload_id == upload.id for p in parts)
    # Sent out of order, named in order: the file is the parts in the order complete names them.
    done = sdk.uploads.complete(upload.id, part_ids=[p.id for p in parts])
    assert done.status == "completed" and done.file is not None
    assert done.file.bytes == len(whole)
    assert sdk.files.content(done.file.id).content == whole
    assert stored_objects(bucket, f"users/{user.user_id}/uploads/") == []


def test_sdk_upload_file_chunked(sdk: openai.OpenAI, user: User) -> None:
    data = b"%PDF-1.4\n" + bytes(range(256)) * 37_000  # 9.5 MB (the free plan's files: 10 MB)
    made = sdk.uploads.upload_file_chunked(
        file=data,
        filename="scan.pdf",
        bytes=len(data),
        mime_type="application/pdf",
        purpose="assistants",
        part_size=4 * 1024 * 1024,  # the SDK's default (64 MB) is past our 8 MB per part
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )
    assert made.status == "completed" and made.file is not None
    assert (made.file.bytes, (made.file.model_extra or {})["type"]) == (len(data), "pdf")
    assert sdk.files.content(made.file.id).content == data


def test_cancel_deletes_the_bytes_at_once(client: httpx.Client, user: User, bucket: str) -> None:
    made = start(client, user, 5)
    assert put(made, b"hello").status_code == 200
    assert stored_objects(bucket, f"users/{user.user_id}/uploads/") != []
    cancelled = client.post(f"/v1/uploads/{made['id']}/cancel", headers=user.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert stored_objects(bucket, f"users/{user.user_id}/uploads/") == []
    again = client.post(f"/v1/uploads/{made['id']}/cancel", headers=user.headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    late = client.post(f"/v1/uploads/{made['id']}/complete", json={}, headers=user.headers)
    assert late.status_code == 400 and late.json()["error"]["code"] == "upload_not_pending"
    assert file_docs(f"user_{user.user_id}") == []
    assert db().collection("uploads").document(str(made["id"])).get().to_dict()["status"] == "cancelled"


def test_a_workspace_upload_makes_a_workspace_file(client: httpx.Client, bucket: str) -> None:
    owner, member = sign_up(client), sign_up(client)
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    as_ws = {"X-Workspace-ID": ws}
    body = {"filename": "plan.txt", "purpose": "assistants", "bytes": 8, "mime_type": "text/plain"}
    made = client.post("/v1/uploads", json=body, headers={**owner.headers, **as_ws}).json()
    assert f"/workspaces/{ws}/uploads/{made['id']}/data" in made["upload_url"]
    put(made, b"the plan")
    # The upload is its uploader's, and of the workspace it was started in: not even a member completes it.
    path = f"/v1/uploads/{made['id']}/complete"
    assert_error(client.post(path, json={}, headers={**member.headers, **as_ws}), 404, "upload_not_found")
    assert_error(client.post(path, json={}, headers=owner.headers), 404, "upload_not_found")
    done = client.post(path, json={}, headers={**owner.headers, **as_ws}).json()
    assert done["file"]["workspace_id"] == ws
    assert stored_objects(bucket, f"workspaces/{ws}/") == [f"workspaces/{ws}/files/{done['file']['id']}"]
    listed = client.get("/v1/files", headers={**member.headers, **as_ws}).json()["data"]
    assert [f["id"] for f in listed] == [done["file"]["id"]]
    assert usage_of(f"workspace_{ws}") == {"count": 1, "bytes": 8}
