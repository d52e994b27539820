"""Uploads (OpenAI's Uploads API): a large file reaches the bucket without passing through the API's body.

`create` records the upload in `uploads/{id}` (pending for an hour) and signs a V4 PUT URL for exactly its
`bytes` at `{owner root}/uploads/{id}/data`; or the client sends parts (each at most PART_MAX_BYTES) that
are stored as `{…}/uploads/{id}/parts/{part_id}`. `complete` (uploads_complete.py) composes the data (or
the named parts, in order) into the file's object, checks its real size, sniffs its type and creates the
File. Only the uploader sees an upload (anyone else: 404 upload_not_found). Cancelling deletes its objects
at once; an upload left pending expires and the reconciler's sweep (delete_expired) deletes its objects,
and a day after an upload ends its document too.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters.storage import GcsStore
from shared.auth.schemas import Principal
from shared.clock import now
from shared.errors import BadRequest, NotFound
from shared.files.quota import FileQuota, check_room, check_size
from shared.files.schemas import PURPOSES
from shared.files.service import clean_name, file_object, owner_of
from shared.files.sniff import EmptyFile
from shared.files.upload_schemas import UploadCreate, UploadObject, UploadPart
from shared.ids import new_id, stable_id
from shared.plans.offers import PlanOffer

log = logging.getLogger("files")

UPLOADS = "uploads"
UPLOAD_TTL_S = 3600  # an upload (and its signed URL) lasts an hour, as OpenAI's
KEEP_ENDED_S = 24 * 3600  # an ended upload's document answers a repeated complete this long
PART_MAX_BYTES = 8 * 1024 * 1024
MAX_PARTS = 1_000
UPLOAD_ID = r"upload_[0-9a-f]{32}"
PART_ID = re.compile(r"^part_[0-9a-f]{32}$")


class UploadNotFound(NotFound):
    code = "upload_not_found"

    def __init__(self) -> None:
        super().__init__("No such upload (or not yours).")


class UploadNotPending(BadRequest):
    code = "upload_not_pending"

    def __init__(self, status: str) -> None:
        super().__init__(f"The upload is {status}; start a new one with POST /v1/uploads.")


def folder_of(principal: Principal, upload_id: str) -> str:
    """The upload's objects' folder, beside the owner's files: `users/{uid}/uploads/{id}/`."""
    _, files = owner_of(principal)
    return files.removesuffix("files/") + f"uploads/{upload_id}/"


def file_id_of(upload_id: str) -> str:
    """The id of the file an upload completes into: a retried complete writes the same object."""
    return f"file-{stable_id('upload', upload_id)[:32]}"


def file_path_of(folder: str, upload_id: str) -> str:
    """Where the upload's file is composed: `{owner root}/files/{file id}` beside its folder."""
    return folder.split("uploads/")[0] + "files/" + file_id_of(upload_id)


def upload_object(upload_id: str, doc: dict[str, Any]) -> UploadObject:
    file = doc.get("file")
    return UploadObject(
        id=upload_id,
        bytes=int(doc["bytes"]),
        created_at=int(doc["created_at"]),
        expires_at=int(doc["expires_at"]),
        filename=str(doc["filename"]),
        purpose=str(doc["purpose"]),
        status=doc["status"],
        file=file_object(str(doc["file_id"]), file) if isinstance(file, dict) else None,
    )


class UploadService:
    def __init__(self, db: firestore.AsyncClient, store: GcsStore) -> None:
        self.db = db
        self.store = store
        self.quota = FileQuota(db)

    def ref(self, upload_id: str) -> Any:
        return self.db.collection(UPLOADS).document(upload_id)

    async def create(self, principal: Principal, offer: PlanOffer, body: UploadCreate) -> UploadObject:
        """Record the upload and sign its PUT URL; a size past the plan is 413, no room left 409/402."""
        if body.purpose not in PURPOSES:
            raise BadRequest(f"purpose must be one of {', '.join(PURPOSES)}.", code="invalid_purpose")
        if body.bytes == 0:
            raise EmptyFile()
        check_size(body.bytes, offer)
        owner, _ = owner_of(principal)
        check_room(await self.quota.usage(owner), body.bytes, offer)  # taken for real on complete
        upload_id = f"upload_{new_id()}"
        folder = folder_of(principal, upload_id)
        url, headers = await self.store.signed_put_url(folder + "data", body.bytes, UPLOAD_TTL_S)
        at = now()
        doc: dict[str, Any] = {
            "owner": owner,
            "user_id": principal.user_id,
            "workspace_id": principal.workspace_id,
            "filename": clean_name(body.filename),
            "purpose": body.purpose,
            "bytes": body.bytes,
            "mime_type": body.mime_type,
            "status": "pending",
            "created_at": int(at.timestamp()),
            "expires_at": int(at.timestamp()) + UPLOAD_TTL_S,
            "expire_at": at + dt.timedelta(seconds=UPLOAD_TTL_S),  # the sweep's key
            "folder": folder,
            "received": 0,
            "parts": {},
        }
        await self.ref(upload_id).create(doc)
        log.info("upload created", extra={"upload_id": upload_id, "bytes": body.bytes})
        made = upload_object(upload_id, doc)
        return made.model_copy(update={"upload_url": url, "upload_headers": headers})

    async def pending(self, principal: Principal, upload_id: str) -> dict[str, Any]:
        """The caller's upload, still pending and not past its hour (400 otherwise, 404 if not theirs)."""
        doc = await self.own(principal, upload_id)
        if doc["status"] != "pending":
            raise UploadNotPending(str(doc["status"]))
        if int(doc["expires_at"]) <= int(now().timestamp()):
            raise UploadNotPending("expired")
        return doc

    async def own(self, principal: Principal, upload_id: str) -> dict[str, Any]:
        snap = await self.ref(upload_id).get()
        doc: dict[str, Any] | None = snap.to_dict() if snap.exists else None
        # Uploads are their uploader's, in the workspace (or not) they were started in.
        if doc is None or doc.get("user_id") != principal.user_id:
            raise UploadNotFound()
        if doc.get("workspace_id") != principal.workspace_id:
            raise UploadNotFound()
        return doc

    async def add_part(self, principal: Principal, upload_id: str, data: bytes) -> UploadPart:
        """Store one part: its bytes are reserved against the upload's `bytes` first, so parts racing past
        the total are refused, and given back when the write fails."""
        if not data:
            raise BadRequest("A part has at least one byte.", code="empty_part")
        if len(data) > PART_MAX_BYTES:
            raise BadRequest(f"A part has at most {PART_MAX_BYTES} bytes.", code="part_too_large")
        doc = await self.pending(principal, upload_id)
        part_id = f"part_{new_id()}"
        ref = self.ref(upload_id)

        @firestore.async_transactional
        async def reserve(tx: Any) -> None:
            current = (await ref.get(transaction=tx)).to_dict() or {}
            if current.get("status") != "pending":
                raise UploadNotPending(str(current.get("status")))
            received, parts = int(current.get("received", 0)), current.get("parts") or {}
            if received + len(data) > int(current["bytes"]):
                raise BadRequest(
                    f"The parts would pass the upload's {current['bytes']} bytes.", code="upload_too_large"
                )
            if len(parts) >= MAX_PARTS:
                raise BadRequest(f"An upload has at most {MAX_PARTS} parts.", code="too_many_parts")
            tx.update(ref, {"received": received + len(data), f"parts.{part_id}": {"bytes": len(data)}})

        await reserve(self.db.transaction())
        try:
            await self.store.put_if_absent(
                f"{doc['folder']}parts/{part_id}", data, "application/octet-stream"
            )
        except BaseException:
            await ref.update(
                {"received": firestore.Increment(-len(data)), f"parts.{part_id}": firestore.DELETE_FIELD}
            )
            raise
        await ref.update({f"parts.{part_id}.stored": True})
        return UploadPart(id=part_id, created_at=int(now().timestamp()), upload_id=upload_id)

    async def cancel(self, principal: Principal, upload_id: str) -> UploadObject:
        """Cancel a pending upload and delete its objects now; cancelling it again answers the same."""
        doc = await self.own(principal, upload_id)
        if doc["status"] == "cancelled":
            return upload_object(upload_id, doc)
        if doc["status"] != "pending":
            raise UploadNotPending(str(doc["status"]))
        return upload_object(upload_id, await self.end(upload_id, "cancelled"))

    async def end(self, upload_id: str, status: str) -> dict[str, Any]:
        """Mark a pending upload `status` (cancelled, expired) and delete its objects; its document stays a
        day. A concurrent complete that got there first wins (UploadNotPending); one that loses deletes
        the file's object it composed (uploads_complete.py)."""
        ref = self.ref(upload_id)

        @firestore.async_transactional
        async def mark(tx: Any) -> dict[str, Any]:
            current = (await ref.get(transaction=tx)).to_dict() or {}
            if current.get("status") != "pending":
                raise UploadNotPending(str(current.get("status")))
            update = {"status": status, "expire_at": now() + dt.timedelta(seconds=KEEP_ENDED_S)}
            tx.update(ref, update)
            return current | update

        ended: dict[str, Any] = await mark(self.db.transaction())
        await self.store.delete_prefix(str(ended["folder"]))
        # A complete that died (or lost to this) after composing left the file's object without a document.
        await self.store.delete(file_path_of(str(ended["folder"]), upload_id))
        log.info("upload ended", extra={"upload_id": upload_id, "status": status})
        return ended

    async def delete_expired(self, limit: int) -> int:
        """The reconciler's sweep: uploads left pending past their hour end `expired` (objects deleted);
        ended ones a day old lose their document (and any object a failed cleanup left)."""
        query = self.db.collection(UPLOADS).where(filter=FieldFilter("expire_at", "<=", now()))
        swept = 0
        async for snap in query.limit(limit).stream():
            doc = snap.to_dict() or {}
            if doc.get("status") == "pending":
                try:
                    await self.end(snap.id, "expired")
                except UploadNotPending:
                    continue  # completed meanwhile
            else:
                await self.store.delete_prefix(str(doc["folder"]))
                await snap.reference.delete()
            swept += 1
        return swept
