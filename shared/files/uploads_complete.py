"""Completing an upload (shared/files/uploads.py): the bytes become a File, or nothing is kept.

The data PUT to the signed URL (no `part_ids`), or the named parts in the given order, are composed into
the file's object (`{owner prefix}/files/{file id}`, the id derived from the upload's, so a retried
complete writes the same object). Its real size must equal the upload's `bytes` and fit the plan, its
optional MD5 must match, and its type is sniffed from its first bytes (a DOCX's directory read by ranges):
a refusal there deletes everything and cancels the upload. Then one Firestore transaction takes the quota
slot (FileQuota.claim), creates the file's document (the shape FileService.create writes) and marks the
upload completed; a second complete finds it completed and answers the same file.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import logging
from typing import Any, BinaryIO

from google.api_core.exceptions import NotFound as StorageNotFound

from shared.adapters.firestore import run_transaction
from shared.auth.schemas import Principal
from shared.clock import now
from shared.errors import AppError, BadRequest
from shared.files.quota import BUSY_S, check_size
from shared.files.service import FILES, file_doc
from shared.files.sniff import HEAD_BYTES, Kind, sniff_stored
from shared.files.upload_schemas import UploadComplete, UploadObject
from shared.files.uploads import (
    KEEP_ENDED_S,
    PART_ID,
    UploadNotPending,
    UploadService,
    file_id_of,
    file_path_of,
    upload_object,
)
from shared.plans.offers import PlanOffer

log = logging.getLogger("files")


class SizeMismatch(BadRequest):
    code = "upload_size_mismatch"


async def complete(
    uploads: UploadService, principal: Principal, offer: PlanOffer, upload_id: str, body: UploadComplete
) -> UploadObject:
    doc = await uploads.own(principal, upload_id)
    if doc["status"] == "completed":
        return upload_object(upload_id, doc)
    doc = await uploads.pending(principal, upload_id)
    sources = _sources(doc, body.part_ids)
    store, folder = uploads.store, str(doc["folder"])
    if not body.part_ids and await store.stat(sources[0]) is None:
        raise BadRequest(
            "Nothing was uploaded yet: PUT the bytes to the upload's upload_url, or send parts.",
            code="upload_incomplete",
        )
    file_id = file_id_of(upload_id)
    path = file_path_of(folder, upload_id)
    try:
        kind = await _checked(uploads, doc, sources, path, offer, body.md5)
        fdoc = file_doc(
            principal, offer, str(doc["filename"]), str(doc["purpose"]), kind, int(doc["bytes"]), path
        )
        done = await _commit(uploads, principal, offer, upload_id, file_id, fdoc)
    except AppError:
        current = await uploads.own(principal, upload_id)
        if current["status"] == "completed":  # a concurrent complete won (and removed the sources)
            return upload_object(upload_id, current)
        # Refused: nothing is kept (the file's object, the upload's objects), the upload ends cancelled.
        with contextlib.suppress(Exception):
            await store.delete(path)
        with contextlib.suppress(UploadNotPending):
            await uploads.end(upload_id, "cancelled")
        raise
    with contextlib.suppress(Exception):  # the sweep retries what this misses
        await store.delete_prefix(folder)
    log.info("upload completed", extra={"upload_id": upload_id, "file_id": file_id, "bytes": doc["bytes"]})
    return upload_object(upload_id, done)


def _sources(doc: dict[str, Any], part_ids: list[str]) -> list[str]:
    folder = str(doc["folder"])
    if not part_ids:
        return [folder + "data"]
    parts: dict[str, Any] = doc.get("parts") or {}
    if len(set(part_ids)) != len(part_ids):
        raise BadRequest("part_ids names a part twice.", code="invalid_part_ids")
    for part_id in part_ids:
        if not PART_ID.match(part_id) or not (parts.get(part_id) or {}).get("stored"):
            raise BadRequest(
                f"part_ids names a part this upload does not have: {part_id[:64]!r}.", code="invalid_part_ids"
            )
    return [f"{folder}parts/{p}" for p in part_ids]


async def _checked(
    uploads: UploadService,
    doc: dict[str, Any],
    sources: list[str],
    path: str,
    offer: PlanOffer,
    md5: str | None,
) -> Kind:
    """Compose the sources into `path` and check what is there: size, plan, MD5, type."""
    store = uploads.store
    try:
        await store.compose(sources, path, "application/octet-stream")
    except StorageNotFound as exc:
        raise BadRequest("A part of the upload is missing.", code="upload_incomplete") from exc
    info = await store.stat(path)
    size = info.size if info else 0
    if size != int(doc["bytes"]):
        raise SizeMismatch(
            f"The upload declared {doc['bytes']} bytes but {size} were stored; nothing was kept."
        )
    check_size(size, offer)
    if md5 is not None:
        found = await store.with_reader(path, _md5)
        if found.lower() != md5.strip().lower() and _b64(found) != md5.strip():
            raise BadRequest("The MD5 of the stored bytes is not the one given.", code="md5_mismatch")
    head = await store.read_range(path, 0, HEAD_BYTES - 1)
    return await store.with_reader(path, lambda reader: sniff_stored(head, size, lambda: reader))


def _md5(reader: BinaryIO) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := reader.read(1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


async def _commit(
    uploads: UploadService,
    principal: Principal,
    offer: PlanOffer,
    upload_id: str,
    file_id: str,
    fdoc: dict[str, Any],
) -> dict[str, Any]:
    """Quota slot, file document and the upload completed, all at once; a completed upload as it is."""
    db = uploads.db
    ref, file_ref = uploads.ref(upload_id), db.collection(FILES).document(file_id)
    usage_ref = uploads.quota.ref(str(fdoc["owner"]))

    async def commit(tx: Any) -> dict[str, Any]:
        current = (await ref.get(transaction=tx)).to_dict() or {}
        usage = (await usage_ref.get(transaction=tx)).to_dict() or {}
        if current.get("status") == "completed":
            return current
        if current.get("status") != "pending":
            raise UploadNotPending(str(current.get("status")))
        uploads.quota.claim(tx, usage, str(fdoc["owner"]), int(fdoc["bytes"]), offer)
        tx.create(file_ref, fdoc)
        update = {
            "status": "completed",
            "file_id": file_id,
            "file": fdoc,
            "expire_at": now() + dt.timedelta(seconds=KEEP_ENDED_S),
        }
        tx.update(ref, update)
        return current | update

    async with uploads.quota.lock(str(fdoc["owner"])):
        done: dict[str, Any] = await run_transaction(db, commit, BUSY_S)
    return done
