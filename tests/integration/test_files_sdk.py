"""The Files API (issue 14, item 1) through the official openai SDK, unchanged: upload, list with its
cursor, retrieve, download, delete; and a workspace's files seen by its members only."""

from __future__ import annotations

import httpx
import openai
import pytest

from shared.settings import Settings
from tests.support.files import docx_bytes, file_docs, stored_objects, usage_of
from tests.support.helpers import User, assert_error, sign_up
from tests.support.workspaces import create, join

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def settings_bucket(settings: Settings) -> str:
    return settings.jobs_bucket


@pytest.fixture
def sdk(api: str, user: User) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api}/v1", api_key=user.access_token, max_retries=0)


def test_sdk_round_trip(sdk: openai.OpenAI, user: User, settings_bucket: str) -> None:
    made = sdk.files.create(file=("report.pdf", PDF, "application/pdf"), purpose="assistants")
    assert made.id.startswith("file-") and made.object == "file" and made.status == "processed"
    assert (made.bytes, made.filename, made.purpose) == (len(PDF), "report.pdf", "assistants")
    assert (made.model_extra or {})["type"] == "pdf"
    notes = sdk.files.create(file=("notes.md", b"# Notes\n\n- one\n- two\n"), purpose="user_data")
    word = sdk.files.create(file=("w.docx", docx_bytes()), purpose="assistants")
    assert (word.model_extra or {})["type"] == "docx"

    assert sdk.files.retrieve(made.id).model_dump() == made.model_dump()
    assert sdk.files.content(made.id).content == PDF
    assert stored_objects(settings_bucket, f"users/{user.user_id}/files/") == sorted(
        f"users/{user.user_id}/files/{f.id}" for f in (made, notes, word)
    )

    listed = sdk.files.list()
    assert {f.id for f in listed.data} == {made.id, notes.id, word.id}
    only = sdk.files.list(purpose="user_data")
    assert [f.id for f in only.data] == [notes.id]
    first = sdk.files.list(limit=2, order="asc")
    assert len(first.data) == 2 and first.has_more
    rest = sdk.files.list(limit=2, order="asc", after=first.data[-1].id)
    assert len(rest.data) == 1 and not rest.has_more
    assert {f.id for f in first.data + rest.data} == {made.id, notes.id, word.id}
    every = [f.id for f in sdk.files.list(limit=1)]  # the SDK pages with `after` by itself
    assert sorted(every) == sorted([made.id, notes.id, word.id])
    assert usage_of(f"user_{user.user_id}") == {"count": 3, "bytes": len(PDF) + notes.bytes + word.bytes}

    gone = sdk.files.delete(made.id)
    assert (gone.id, gone.object, gone.deleted) == (made.id, "file", True)
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        sdk.files.delete(made.id)
    assert f"users/{user.user_id}/files/{made.id}" not in stored_objects(
        settings_bucket, f"users/{user.user_id}/files/"
    )
    assert usage_of(f"user_{user.user_id}") == {"count": 2, "bytes": notes.bytes + word.bytes}
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.files.create(file=("x.png", b"\x89PNG\r\n\x1a\n" + bytes(40)), purpose="assistants")
    assert bad.value.code == "unsupported_file_type"


def test_workspace_files_are_the_members(client: httpx.Client, api: str, settings_bucket: str) -> None:
    owner, member, outsider = sign_up(client), sign_up(client), sign_up(client)
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    as_ws = {"X-Workspace-ID": ws}
    owner_sdk = openai.OpenAI(
        base_url=f"{api}/v1", api_key=owner.access_token, max_retries=0, default_headers=as_ws
    )
    shared = owner_sdk.files.create(file=("plan.txt", b"the plan"), purpose="assistants")
    assert (shared.model_extra or {})["workspace_id"] == ws
    assert stored_objects(settings_bucket, f"workspaces/{ws}/files/") == [
        f"workspaces/{ws}/files/{shared.id}"
    ]
    member_list = client.get("/v1/files", headers={**member.headers, **as_ws}).json()
    assert [f["id"] for f in member_list["data"]] == [shared.id]
    assert client.get(f"/v1/files/{shared.id}/content", headers=member.headers).content == b"the plan"
    # Not in the member's own list, and only the uploader or an admin deletes it.
    assert client.get("/v1/files", headers=member.headers).json()["data"] == []
    assert client.delete(f"/v1/files/{shared.id}", headers=member.headers).status_code == 403
    for path in (f"/v1/files/{shared.id}", f"/v1/files/{shared.id}/content"):
        assert_error(client.get(path, headers=outsider.headers), 404, "file_not_found")
    assert_error(client.delete(f"/v1/files/{shared.id}", headers=outsider.headers), 404, "file_not_found")
    assert_error(client.get("/v1/files", headers={**outsider.headers, **as_ws}), 404, "workspace_not_found")
    assert client.delete(f"/v1/files/{shared.id}", headers=owner.headers).json()["deleted"] is True
    assert file_docs(f"workspace_{ws}") == [] and usage_of(f"workspace_{ws}")["count"] == 0
