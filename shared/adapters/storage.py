"""Cloud Storage: the one adapter for job results (write once, read, V4 signed URLs). No public bucket.

Objects are written with if_generation_match=0 (create-if-absent): a step delivered twice finds its
object already there and does not write it again. google-cloud-storage is synchronous, so calls run
in a worker thread; the client is built once per instance, lazily.

Signed URLs: in the cloud the runtime's service account has no private key, so the URL is signed
through IAM signBlob with an access token (the account needs roles/iam.serviceAccountTokenCreator
on itself). Against the emulator (settings.storage_emulator_host or STORAGE_EMULATOR_HOST) URLs are
signed with a throwaway RSA key generated per process: fake-gcs-server does not check signatures, so
the URL works locally exactly as a real one would, and proves the signing path runs. The same holds for
the signed PUT of uploads (shared/files/uploads.py): fake-gcs-server takes `PUT /{bucket}/{object}` (the
XML API's upload) and ignores the signature and the signed `x-goog-content-length-range`, so the server's
own check of the stored size on complete is what the tests prove; in the cloud Storage enforces both too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, TypeVar

import anyio
from google.api_core.exceptions import Conflict, NotFound, PreconditionFailed
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from shared.settings import Settings

log = logging.getLogger("storage")
T = TypeVar("T")

LOCAL_SIGNER = "local-signer@demo-local.iam.gserviceaccount.com"
READ_CHUNK = 1024 * 1024  # bytes per ranged read of with_reader
COMPOSE_MAX = 32  # sources per compose call (Cloud Storage's limit)


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    md5: str | None  # base64, as Cloud Storage reports it; None for a composite object


class BlobStore(Protocol):
    async def put_if_absent(self, path: str, data: bytes, content_type: str) -> bool: ...
    async def read(self, path: str) -> bytes | None: ...
    async def signed_url(self, path: str, ttl_s: int | None = None) -> str: ...
    async def delete_prefix(self, prefix: str) -> int: ...


class GcsStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._bucket_name = settings.jobs_bucket
        self._emulator = settings.storage_emulator_host or os.environ.get("STORAGE_EMULATOR_HOST") or None
        self._client: storage.Client | None = None
        self._signer: Any = None
        self._lock = threading.Lock()

    async def put_if_absent(self, path: str, data: bytes, content_type: str) -> bool:
        """Write the object unless it exists; True when this call wrote it."""
        return await anyio.to_thread.run_sync(self._put, path, data, content_type)

    async def read(self, path: str) -> bytes | None:
        return await anyio.to_thread.run_sync(self._read, path)

    async def signed_url(self, path: str, ttl_s: int | None = None) -> str:
        ttl = dt.timedelta(seconds=ttl_s or self._settings.signed_url_ttl_s)
        return await anyio.to_thread.run_sync(self._sign, path, ttl)

    async def signed_put_url(self, path: str, size: int, ttl_s: int) -> tuple[str, dict[str, str]]:
        """A V4 signed URL that PUTs exactly `size` bytes to `path`, and the headers the PUT must send
        (the length range is a signed header: Cloud Storage refuses a body of another length)."""
        headers = {"x-goog-content-length-range": f"{size},{size}"}
        signed = dict(headers)  # signing adds Host to the dict it is given
        url = await anyio.to_thread.run_sync(self._sign, path, dt.timedelta(seconds=ttl_s), "PUT", signed)
        return url, headers

    async def stat(self, path: str) -> ObjectInfo | None:
        """The object's size and MD5 (None for a composite object), or None when it is not there."""
        return await anyio.to_thread.run_sync(self._stat, path)

    async def read_range(self, path: str, start: int, end: int) -> bytes:
        """Bytes `start` to `end` inclusive (fewer at the object's end)."""
        return await anyio.to_thread.run_sync(self._read_range, path, start, end)

    async def with_reader(self, path: str, use: Callable[[BinaryIO], T]) -> T:
        """`use(reader)` in a worker thread, the reader a seekable view of the object that fetches ranges as
        it is read (a zip's directory at its end, or a hash over the whole, without holding it all)."""

        def run() -> T:
            with self._bucket().blob(path).open("rb", chunk_size=READ_CHUNK) as reader:
                return use(reader)

        return await anyio.to_thread.run_sync(run)

    async def compose(self, sources: list[str], dest: str, content_type: str) -> None:
        """`dest` = the sources concatenated in order (in rounds of 32, Cloud Storage's limit per call)."""
        await anyio.to_thread.run_sync(self._compose, sources, dest, content_type)

    async def delete(self, path: str) -> bool:
        """Delete one object; False when it was not there."""
        return await anyio.to_thread.run_sync(self._delete, path)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` (which must end with "/"); how many were deleted."""
        if not prefix.endswith("/") or prefix.count("/") < 2:
            raise ValueError(f"refusing to delete under {prefix!r}: give an owner's folder")
        return await anyio.to_thread.run_sync(self._delete_prefix, prefix)

    # Blocking internals (worker threads).

    def _delete(self, path: str) -> bool:
        try:
            self._bucket().blob(path).delete()
        except NotFound:
            return False
        return True

    def _delete_prefix(self, prefix: str) -> int:
        deleted = 0
        for blob in self._bucket().list_blobs(prefix=prefix):
            with contextlib.suppress(NotFound):  # a concurrent delete got there first
                blob.delete()
                deleted += 1
        return deleted

    def _stat(self, path: str) -> ObjectInfo | None:
        blob = self._bucket().get_blob(path)
        if blob is None or blob.size is None:
            return None
        return ObjectInfo(int(blob.size), blob.md5_hash or None)

    def _read_range(self, path: str, start: int, end: int) -> bytes:
        data: bytes = self._bucket().blob(path).download_as_bytes(start=start, end=end)
        return data

    def _compose(self, sources: list[str], dest: str, content_type: str) -> None:
        bucket = self._bucket()
        target = bucket.blob(dest)
        target.content_type = content_type
        rest = [bucket.blob(s) for s in sources]
        target.compose(rest[:COMPOSE_MAX])
        rest = rest[COMPOSE_MAX:]
        while rest:  # the composed object so far is the first source of the next round
            target.compose([target, *rest[: COMPOSE_MAX - 1]])
            rest = rest[COMPOSE_MAX - 1 :]

    def _bucket(self) -> storage.Bucket:
        with self._lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client.bucket(self._bucket_name)

    def _new_client(self) -> storage.Client:
        if not self._emulator:
            return storage.Client(project=self._settings.gcp_project)
        os.environ.setdefault("STORAGE_EMULATOR_HOST", self._emulator)
        client = storage.Client(
            project=self._settings.gcp_project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self._emulator},
        )
        # In the cloud the bucket is Terraform's; the emulator starts empty.
        with contextlib.suppress(Conflict):
            client.create_bucket(self._bucket_name)
        return client

    def _put(self, path: str, data: bytes, content_type: str) -> bool:
        blob = self._bucket().blob(path)
        try:
            blob.upload_from_string(data, content_type=content_type, if_generation_match=0)
        except PreconditionFailed:
            log.info("object already stored", extra={"path": path})
            return False
        return True

    def _read(self, path: str) -> bytes | None:
        try:
            data: bytes = self._bucket().blob(path).download_as_bytes()
        except NotFound:
            return None
        return data

    def _sign(
        self, path: str, ttl: dt.timedelta, method: str = "GET", headers: dict[str, str] | None = None
    ) -> str:
        blob = self._bucket().blob(path)
        if self._emulator:
            url: str = blob.generate_signed_url(
                version="v4",
                expiration=ttl,
                method=method,
                headers=headers,
                credentials=self._local_signer(),
                api_access_endpoint=self._emulator,
            )
            return url
        credentials = self._cloud_credentials()
        url = blob.generate_signed_url(
            version="v4",
            expiration=ttl,
            method=method,
            headers=headers,
            service_account_email=credentials.service_account_email,
            access_token=credentials.token,
        )
        return url

    def _local_signer(self) -> Any:
        with self._lock:
            if self._signer is None:
                self._signer = _throwaway_signer()
            return self._signer

    def _cloud_credentials(self) -> Any:
        import google.auth
        from google.auth.transport.requests import Request

        with self._lock:
            if self._signer is None:
                self._signer, _ = google.auth.default()  # type: ignore[no-untyped-call]
            if not self._signer.valid:
                self._signer.refresh(Request())
            return self._signer


def _throwaway_signer() -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.auth import crypt
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return service_account.Credentials(
        signer=crypt.RSASigner.from_string(pem),
        service_account_email=LOCAL_SIGNER,
        token_uri="https://oauth2.googleapis.com/token",  # noqa: S106 - never called: signing is local
    )
