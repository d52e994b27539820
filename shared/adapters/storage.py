"""Cloud Storage: the one adapter for job results (write once, read, V4 signed URLs). No public bucket.

Objects are written with if_generation_match=0 (create-if-absent): a step delivered twice finds its
object already there and does not write it again. google-cloud-storage is synchronous, so calls run
in a worker thread; the client is built once per instance, lazily.

Signed URLs: in the cloud the runtime's service account has no private key, so the URL is signed
through IAM signBlob with an access token (the account needs roles/iam.serviceAccountTokenCreator
on itself). Against the emulator (settings.storage_emulator_host or STORAGE_EMULATOR_HOST) URLs are
signed with a throwaway RSA key generated per process: fake-gcs-server does not check signatures, so
the URL works locally exactly as a real one would, and proves the signing path runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
from typing import Any, Protocol

import anyio
from google.api_core.exceptions import Conflict, NotFound, PreconditionFailed
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from shared.settings import Settings

log = logging.getLogger("storage")

LOCAL_SIGNER = "local-signer@demo-local.iam.gserviceaccount.com"


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

    def _sign(self, path: str, ttl: dt.timedelta) -> str:
        blob = self._bucket().blob(path)
        if self._emulator:
            url: str = blob.generate_signed_url(
                version="v4",
                expiration=ttl,
                method="GET",
                credentials=self._local_signer(),
                api_access_endpoint=self._emulator,
            )
            return url
        credentials = self._cloud_credentials()
        url = blob.generate_signed_url(
            version="v4",
            expiration=ttl,
            method="GET",
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
