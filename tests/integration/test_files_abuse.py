"""The Files API refuses cleanly (issue 14, item 1): someone else's file is a 404, a file past the plan's
size a 413, past its count a 409 and past its storage a 402 (two uploads racing for the last slot: one
wins), bad input a 400, a flood a 429; and a refusal leaves nothing behind, in the bucket or in Firestore."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from shared.settings import Settings
from tests.support.files import file_docs, set_usage, stored_objects, usage_of, zip_bomb
from tests.support.helpers import User, assert_error, sign_up


@pytest.fixture
def bucket(settings: Settings) -> str:
    return settings.jobs_bucket


def upload(
    client: httpx.Client, user: User, data: bytes, purpose: str = "assistants", name: str = "a.txt"
) -> httpx.Response:
    return client.post(
        "/v1/files", files={"file": (name, data)}, data={"purpose": purpose}, headers=user.headers
    )


def assert_nothing_stored(user: User, bucket: str, count: int = 0) -> None:
    assert stored_objects(bucket, f"users/{user.user_id}/files/") == []
    assert file_docs(f"user_{user.user_id}") == []
    assert usage_of(f"user_{user.user_id}").get("count", 0) == count


def test_someone_elses_file_is_404(client: httpx.Client, user: User) -> None:
    other = sign_up(client)
    made = upload(client, user, b"mine").json()
    for path in (f"/v1/files/{made['id']}", f"/v1/files/{made['id']}/content"):
        assert_error(client.get(path, headers=other.headers), 404, "file_not_found")
    assert_error(client.delete(f"/v1/files/{made['id']}", headers=other.headers), 404, "file_not_found")
    assert client.get("/v1/files", headers=other.headers).json()["data"] == []
    for bad in ("file-nope", "file-" + "0" * 32, "file-" + "A" * 32, "x" * 2_000):
        assert_error(client.get(f"/v1/files/{bad}", headers=user.headers), 404, "file_not_found")
    # Another user's id as a list cursor is refused, not followed.
    assert_error(
        client.get("/v1/files", params={"after": made["id"]}, headers=other.headers), 400, "invalid_cursor"
    )
    assert client.get(f"/v1/files/{made['id']}", headers=user.headers).status_code == 200


def test_bad_input_is_400_and_nothing_is_stored(client: httpx.Client, user: User, bucket: str) -> None:
    assert_error(upload(client, user, b""), 400, "empty_file")
    assert_error(upload(client, user, b"\x89PNG\r\n\x1a\n" + bytes(64)), 400, "unsupported_file_type")
    assert_error(upload(client, user, zip_bomb(), name="bomb.docx"), 400, "unsupported_file_type")
    assert_error(upload(client, user, b"hello", purpose="fine-tune"), 400, "invalid_purpose")
    no_file = client.post(
        "/v1/files", files={"other": ("a.txt", b"x")}, data={"purpose": "assistants"}, headers=user.headers
    )
    assert_error(no_file, 400, "missing_file")
    no_purpose = client.post("/v1/files", files={"file": ("a.txt", b"x")}, headers=user.headers)
    assert_error(no_purpose, 400, "invalid_purpose")
    urlencoded = client.post("/v1/files", data={"purpose": "assistants"}, headers=user.headers)
    assert_error(urlencoded, 400, "invalid_multipart")
    as_json = client.post("/v1/files", json={"purpose": "assistants"}, headers=user.headers)
    assert_error(as_json, 400, "invalid_multipart")
    assert_nothing_stored(user, bucket)


def test_a_file_past_the_plan_size_is_413(client: httpx.Client, user: User, bucket: str) -> None:
    # The free plan: 10 MB per file (shared/plans/plans.toml).
    assert_error(upload(client, user, b"a" * 10_000_001), 413, "file_too_large")
    too_big = upload(client, user, b"a" * 22_000_000)  # past the route's body limit: refused as it arrives
    assert too_big.status_code == 413
    assert_nothing_stored(user, bucket)
    assert upload(client, user, b"a" * 10_000_000).status_code == 200


def test_the_last_slot_goes_to_one_of_two_racing_uploads(
    client: httpx.Client, user: User, api: str, bucket: str
) -> None:
    owner = f"user_{user.user_id}"
    set_usage(owner, 99, 0)  # the free plan keeps 100 files

    def race(i: int) -> httpx.Response:
        with httpx.Client(base_url=api, timeout=60) as c:
            return upload(c, user, f"racer {i}".encode())

    # Ten at once: the usage document's transactions contend (the emulator answers "lock timeout");
    # they retry with backoff (shared/adapters/firestore.py) instead of failing as a 500.
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(race, range(10)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 9, [a.text for a in answers]
    assert all(a.json()["error"]["code"] == "too_many_files" for a in answers if a.status_code == 409)
    assert usage_of(owner)["count"] == 100
    assert len(stored_objects(bucket, f"users/{user.user_id}/files/")) == 1
    # Deleting gives the slot back.
    won = next(a.json() for a in answers if a.status_code == 200)
    assert client.delete(f"/v1/files/{won['id']}", headers=user.headers).status_code == 200
    assert usage_of(owner) == {"count": 99, "bytes": 0}


def test_the_storage_quota_is_402(client: httpx.Client, user: User, bucket: str) -> None:
    owner = f"user_{user.user_id}"
    set_usage(owner, 0, 100_000_000 - 10)  # the free plan stores 100 MB
    assert_error(upload(client, user, b"eleven char"), 402, "storage_quota_exceeded")
    assert usage_of(owner) == {"count": 0, "bytes": 100_000_000 - 10}
    assert stored_objects(bucket, f"users/{user.user_id}/files/") == []

    def race(_: int) -> int:
        return upload(client, user, b"ten chars!").status_code

    with ThreadPoolExecutor(3) as pool:
        assert sorted(pool.map(race, range(3))) == [200, 402, 402]
    assert usage_of(owner) == {"count": 1, "bytes": 100_000_000}


def test_uploads_are_rate_limited(client: httpx.Client) -> None:
    user = sign_up(client, headers={"X-Forwarded-For": f"192.0.2.{uuid.uuid4().int % 250}"})
    codes = [upload(client, user, f"n{i}".encode()).status_code for i in range(40)]
    assert codes[0] == 200 and 429 in codes
    stored = client.get("/v1/files", headers=user.headers).json()["data"]
    assert len(stored) == codes.count(200)
