"""Helpers of the files tests: sample documents built in memory, and what is stored for an owner."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter

from tests.support.helpers import db
from tests.support.jobs import storage_client


def docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document><w:body>Hello</w:body></w:document>")
    return out.getvalue()


def zip_bomb() -> bytes:
    """A DOCX-looking zip whose one entry declares 20 MB that compress to about 20 kB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * 20_000_000)
    return out.getvalue()


def stored_objects(bucket: str, prefix: str) -> list[str]:
    return [b.name for b in storage_client().bucket(bucket).list_blobs(prefix=prefix)]


def file_docs(owner: str) -> list[dict[str, Any]]:
    return [
        s.to_dict() or {}
        for s in db().collection("files").where(filter=FieldFilter("owner", "==", owner)).stream()
    ]


def usage_of(owner: str) -> dict[str, Any]:
    return db().collection("file_usage").document(owner).get().to_dict() or {}


def set_usage(owner: str, count: int, size: int) -> None:
    db().collection("file_usage").document(owner).set({"count": count, "bytes": size})
