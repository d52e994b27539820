"""The Uploads API refuses cleanly (issue 14, item 1): someone else's upload is a 404, a size past the plan a
413 when the upload is created, bytes of another size than declared (or of an unsupported type, or not
matching the MD5) a 400 on complete with nothing kept, bad input a 400 with nothing stored, a flood a 429;
an upload left pending is expired by the reconciler's sweep, which deletes its bytes."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.files.uploads import file_id_of
from shared.settings import Settings
from tests.integration.test_file_retention import sweep
from tests.support.files import file_docs, set_usage, stored_objects, usage_of
from tests.support.helpers import User, assert_error, db, sign_up
from tests.support.jobs import storage_client


@pytest.fixture
def bucket(settings: Settings) -> str:
    return settings.jobs_bucket


def uploads_of(user: User) -> list[object]:
    query = db().collection("uploads").where(filter=FieldFilter("user_id", "==", user.user_id))
    return list(query.stream())


def create(client: httpx.Client, user: User, size: int, **extra: object) -> httpx.Response:
    body = {"filename": "a.txt", "purpose": "assistants", "bytes": size, "mime_type": "text/plain"} | extra
    return client.post("/v1/uploads", json=body, headers=user.headers)


def put(made: dict[str, object], data: bytes) -> None:
    headers = made["upload_headers"]
    assert isinstance(headers, dict)
    assert httpx.put(str(made["upload_url"]), content=data, headers=headers).status_code == 200


def complete(client: httpx.Client, user: User, upload_id: object, **body: object) -> httpx.Response:
    return client.post(f"/v1/uploads/{upload_id}/complete", json=body, headers=user.headers)


def part(client: httpx.Client, user: User, upload_id: object, data: bytes) -> httpx.Response:
    files = {"data": ("blob", data)}
    return client.post(f"/v1/uploads/{upload_id}/parts", files=files, headers=user.headers)


def assert_nothing_kept(user: User, bucket: str) -> None:
    assert stored_objects(bucket, f"users/{user.user_id}/") == []
    assert file_docs(f"user_{user.user_id}") == []
    assert usage_of(f"user_{user.user_id}").get("count", 0) == 0


def test_someone_elses_upload_is_404(client: httpx.Client, user: User) -> None:
    other = sign_up(client)
    made = create(client, user, 4).json()
    put(made, b"mine")
    upload_id = made["id"]
    assert_error(complete(client, other, upload_id), 404, "upload_not_found")
    assert_error(part(client, other, upload_id, b"x"), 404, "upload_not_found")
    cancel = client.post(f"/v1/uploads/{upload_id}/cancel", headers=other.headers)
    assert_error(cancel, 404, "upload_not_found")
    for bad in ("upload_nope", "upload_" + "0" * 32, "file-" + "0" * 32, "x" * 2_000):
        assert_error(complete(client, user, bad), 404, "upload_not_found")
    assert db().collection("uploads").document(upload_id).get().to_dict()["status"] == "pending"
    assert complete(client, user, upload_id).json()["status"] == "completed"


def test_a_size_past_the_plan_is_413_at_create(client: httpx.Client, user: User, bucket: str) -> None:
    # The free plan: 10 MB per file, 100 files, 100 MB in all (shared/plans/plans.toml).
    assert_error(create(client, user, 10_000_001), 413, "file_too_large")
    set_usage(f"user_{user.user_id}", 100, 0)
    assert_error(create(client, user, 10), 409, "too_many_files")
    set_usage(f"user_{user.user_id}", 0, 100_000_000 - 5)
    assert_error(create(client, user, 10), 402, "storage_quota_exceeded")
    assert uploads_of(user) == []
    # A part past 8 MB, and parts past the declared bytes, are refused and not stored.
    made = create(client, user, 5).json()
    assert_error(part(client, user, made["id"], b"x" * (8 * 1024 * 1024 + 1)), 400, "part_too_large")
    too_big = part(client, user, made["id"], b"x" * (9 * 1024 * 1024))  # past the route's body limit
    assert too_big.status_code == 413
    assert part(client, user, made["id"], b"abc").status_code == 200
    assert_error(part(client, user, made["id"], b"def"), 400, "upload_too_large")
    assert len(stored_objects(bucket, f"users/{user.user_id}/uploads/")) == 1


def test_a_put_of_another_size_keeps_nothing(client: httpx.Client, user: User, bucket: str) -> None:
    made = create(client, user, 10).json()
    put(made, b"0123456789abcdef")  # the emulator does not enforce the signed length range; the server does
    assert_error(complete(client, user, made["id"]), 400, "upload_size_mismatch")
    assert_nothing_kept(user, bucket)
    assert db().collection("uploads").document(made["id"]).get().to_dict()["status"] == "cancelled"
    # Parts summing to less than declared: the same.
    made = create(client, user, 10).json()
    first = part(client, user, made["id"], b"01234").json()
    assert_error(complete(client, user, made["id"], part_ids=[first["id"]]), 400, "upload_size_mismatch")
    assert_nothing_kept(user, bucket)


def test_bad_bytes_on_complete_keep_nothing(client: httpx.Client, user: User, bucket: str) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    made = create(client, user, len(png), mime_type="image/png").json()
    put(made, png)
    assert_error(complete(client, user, made["id"]), 400, "unsupported_file_type")
    assert_nothing_kept(user, bucket)
    made = create(client, user, 5).json()
    put(made, b"hello")
    assert_error(complete(client, user, made["id"], md5="0" * 32), 400, "md5_mismatch")
    assert_nothing_kept(user, bucket)
    # The quota filled meanwhile: 402 on complete, and nothing kept.
    made = create(client, user, 5).json()
    put(made, b"hello")
    set_usage(f"user_{user.user_id}", 0, 100_000_000)
    assert_error(complete(client, user, made["id"]), 402, "storage_quota_exceeded")
    assert stored_objects(bucket, f"users/{user.user_id}/") == []
    assert file_docs(f"user_{user.user_id}") == []


def test_bad_input_is_400_and_nothing_is_stored(client: httpx.Client, user: User, bucket: str) -> None:
    assert_error(create(client, user, 0), 400, "empty_file")
    assert_error(create(client, user, -1), 400, "invalid_request")
    assert_error(create(client, user, 5, purpose="fine-tune"), 400, "invalid_purpose")
    assert_error(create(client, user, 5, mime_type="not a type"), 400, "invalid_request")
    assert_error(create(client, user, 5, filename=""), 400, "invalid_request")
    no_json = client.post(
        "/v1/uploads", content=b"{", headers=user.headers | {"content-type": "application/json"}
    )
    assert no_json.status_code == 400
    assert uploads_of(user) == []
    made = create(client, user, 5).json()
    assert_error(complete(client, user, made["id"]), 400, "upload_incomplete")  # nothing PUT yet
    for ids in (["part_nope"], ["part_" + "0" * 32], "not a list"):
        assert complete(client, user, made["id"], part_ids=ids).status_code == 400
    no_data = client.post(
        f"/v1/uploads/{made['id']}/parts", files={"other": ("b", b"x")}, headers=user.headers
    )
    assert_error(no_data, 400, "missing_data")
    assert_error(part(client, user, made["id"], b""), 400, "empty_part")
    assert_nothing_kept(user, bucket)
    # Still pending: the right bytes complete it.
    put(made, b"hello")
    assert complete(client, user, made["id"]).json()["file"]["bytes"] == 5


def test_uploads_are_rate_limited(client: httpx.Client) -> None:
    user = sign_up(client, headers={"X-Forwarded-For": f"192.0.2.{uuid.uuid4().int % 250}"})
    codes = [create(client, user, 5).status_code for _ in range(40)]
    assert codes[0] == 200 and 429 in codes
    made = uploads_of(user)
    assert len(made) == codes.count(200)


def test_the_sweep_expires_a_pending_upload(
    client: httpx.Client, user: User, bucket: str, settings: Settings
) -> None:
    made = create(client, user, 5).json()
    put(made, b"hello")
    kept = create(client, user, 4).json()
    put(kept, b"kept")
    # As if a complete had died after composing the file's object, before its document was written.
    stray = f"users/{user.user_id}/files/{file_id_of(made['id'])}"
    storage_client().bucket(bucket).blob(stray).upload_from_string(b"hello")
    ref = db().collection("uploads").document(made["id"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    ref.update({"expire_at": past, "expires_at": int(past.timestamp())})
    assert_error(complete(client, user, made["id"]), 400, "upload_not_pending")  # past its hour
    assert sweep(settings)["uploads_expired"] >= 1
    assert ref.get().to_dict()["status"] == "expired"
    assert stored_objects(bucket, f"users/{user.user_id}/files/") == []
    assert stored_objects(bucket, f"users/{user.user_id}/uploads/") == [
        f"users/{user.user_id}/uploads/{kept['id']}/data"
    ]
    # A day after it ended, its document goes too.
    ref.update({"expire_at": past})
    sweep(settings)
    assert not ref.get().exists
    assert complete(client, user, kept["id"]).json()["status"] == "completed"
