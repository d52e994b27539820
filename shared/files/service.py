"""Files: the bytes in the bucket under their owner's prefix (`users/{uid}/files/{id}`, or
`workspaces/{ws}/files/{id}` when uploaded with X-Workspace-ID), the metadata in `files/{id}`.

A user's file is theirs alone; a workspace's is seen by its members and deleted by its uploader or an
owner/admin. Anything else answers 404 file_not_found, as a file that does not exist. An upload is
checked (type, size) before anything is stored, then takes its slot in the owner's quota (quota.py),
then writes the bytes, then the metadata; a failure after the slot was taken removes the bytes and gives
the slot back, so a refusal leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from typing import Any, Literal

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters.firestore import run_transaction
from shared.adapters.storage import GcsStore
from shared.auth.schemas import Principal
from shared.clock import now
from shared.errors import BadRequest, NotFound
from shared.files.quota import BUSY_S, FileQuota, check_size
from shared.files.schemas import PURPOSES, FileDeleted, FileList, FileObject
from shared.files.sniff import Kind, sniff
from shared.ids import new_id
from shared.knowledge.repository import KnowledgeRepository
from shared.plans.offers import PlanOffer
from shared.workspaces.ownership import check_readable
from shared.workspaces.service import WorkspaceService

log = logging.getLogger("files")

FILES = "files"
MAX_LIST = 10_000
_FILE_ID = re.compile(r"^file-[0-9a-f]{32}$")


class FileNotFound(NotFound):
    code = "file_not_found"

    def __init__(self) -> None:
        super().__init__("No such file (or not yours): list yours with GET /v1/files.")


def owner_of(principal: Principal) -> tuple[str, str]:
    """The quota key and the bucket prefix of what `principal` uploads: their workspace's, or their own."""
    if principal.workspace_id:
        return f"workspace_{principal.workspace_id}", f"workspaces/{principal.workspace_id}/files/"
    return f"user_{principal.user_id}", f"users/{principal.user_id}/files/"


class FileService:
    def __init__(self, db: firestore.AsyncClient, store: GcsStore, workspaces: WorkspaceService) -> None:
        self._db = db
        self._store = store
        self._workspaces = workspaces
        self.quota = FileQuota(db)

    def _ref(self, file_id: str) -> Any:
        if not _FILE_ID.match(file_id):
            raise FileNotFound()
        return self._db.collection(FILES).document(file_id)

    async def create(
        self, principal: Principal, offer: PlanOffer, filename: str, purpose: str, data: bytes
    ) -> FileObject:
        if purpose not in PURPOSES:
            raise BadRequest(f"purpose must be one of {', '.join(PURPOSES)}.", code="invalid_purpose")
        check_size(len(data), offer)
        kind = sniff(data)
        owner, prefix = owner_of(principal)
        file_id = f"file-{new_id()}"
        path = prefix + file_id
        await self.quota.take(owner, len(data), offer)
        doc = file_doc(principal, offer, filename, purpose, kind, len(data), path)
        try:
            await self._store.put_if_absent(path, data, kind.mime)
            await self._ref(file_id).create(doc)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._store.delete(path)
            await self.quota.give_back(owner, len(data))
            raise
        log.info("file stored", extra={"file_id": file_id, "bytes": len(data), "type": kind.name})
        return file_object(file_id, doc)

    async def document(self, principal: Principal, file_id: str) -> dict[str, Any]:
        """The file's stored document, when the caller may read it (404 file_not_found otherwise)."""
        return await self._readable(principal, file_id)

    async def get(self, principal: Principal, file_id: str) -> FileObject:
        return file_object(file_id, await self._readable(principal, file_id))

    async def content(self, principal: Principal, file_id: str) -> tuple[bytes, str, str]:
        """The bytes, their content type and the file name."""
        doc = await self._readable(principal, file_id)
        data = await self._store.read(str(doc["path"]))
        if data is None:
            raise FileNotFound()
        return data, str(doc["mime"]), str(doc["filename"])

    async def list_for(
        self,
        principal: Principal,
        purpose: str | None,
        limit: int,
        order: Literal["asc", "desc"],
        after: str | None,
    ) -> FileList:
        owner, _ = owner_of(principal)
        query = self._db.collection(FILES).where(filter=FieldFilter("owner", "==", owner))
        if purpose:
            query = query.where(filter=FieldFilter("purpose", "==", purpose))
        direction = firestore.Query.ASCENDING if order == "asc" else firestore.Query.DESCENDING
        query = query.order_by("created_at", direction=direction)
        if after:
            cursor = await self._ref(after).get() if _FILE_ID.match(after) else None
            if cursor is None or not cursor.exists or (cursor.to_dict() or {}).get("owner") != owner:
                raise BadRequest("`after` must be the id of one of the listed files.", code="invalid_cursor")
            query = query.start_after(cursor)
        found = [file_object(s.id, s.to_dict() or {}) async for s in query.limit(limit + 1).stream()]
        page = found[:limit]
        return FileList(
            data=page,
            has_more=len(found) > limit,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
        )

    async def delete(self, principal: Principal, file_id: str) -> FileDeleted:
        doc = await self._readable(principal, file_id)
        if doc.get("workspace_id") and doc.get("user_id") != principal.user_id:
            await self._workspaces.membership(principal.user_id, str(doc["workspace_id"]), "admin")
        await self._remove(file_id, str(doc["owner"]))
        return FileDeleted(id=file_id)

    async def _remove(self, file_id: str, owner: str) -> None:
        """The metadata and the quota in one transaction, then the bytes; FileNotFound if already gone."""
        ref = self._ref(file_id)
        usage_ref = self.quota.ref(owner)

        async def remove(tx: Any) -> dict[str, Any]:
            snap = await ref.get(transaction=tx)
            usage = (await usage_ref.get(transaction=tx)).to_dict() or {}
            if not snap.exists:
                raise FileNotFound()  # a concurrent delete got there first
            current = snap.to_dict() or {}
            tx.delete(ref)
            self.quota.release(tx, usage, str(current["owner"]), int(current["bytes"]))
            return current

        async with self.quota.lock(owner):
            removed = await run_transaction(self._db, remove, BUSY_S)
        # Out of every vector store's search first, then the bytes (shared/knowledge/).
        await KnowledgeRepository(self._db, self._store).forget_file(file_id, int(now().timestamp()))
        await self._store.delete(str(removed["path"]))
        log.info("file deleted", extra={"file_id": file_id})

    async def delete_expired(self, limit: int) -> int:
        """Delete up to `limit` files whose plan's retention ran out (the reconciler's sweep)."""
        query = self._db.collection(FILES).where(filter=FieldFilter("expire_at", "<=", now()))
        deleted = 0
        async for snap in query.limit(limit).stream():
            try:
                await self._remove(snap.id, str((snap.to_dict() or {})["owner"]))
            except FileNotFound:
                continue  # its owner deleted it meanwhile
            deleted += 1
        return deleted

    async def _readable(self, principal: Principal, file_id: str) -> dict[str, Any]:
        snap = await self._ref(file_id).get()
        doc: dict[str, Any] | None = snap.to_dict() if snap.exists else None
        if doc is None:
            raise FileNotFound()
        await check_readable(self._workspaces, principal, doc, FileNotFound)
        return doc


def file_doc(
    principal: Principal, offer: PlanOffer, filename: str, purpose: str, kind: Kind, size: int, path: str
) -> dict[str, Any]:
    """A file's stored document (uploaded whole here, or through an upload: shared/files/uploads.py)."""
    owner, _ = owner_of(principal)
    at = now()
    days = offer.file_retention_days
    return {
        "owner": owner,
        "user_id": principal.user_id,  # the uploader
        "workspace_id": principal.workspace_id,
        "filename": clean_name(filename),
        "purpose": purpose,
        "type": kind.name,
        "mime": kind.mime,
        "bytes": size,
        "path": path,
        "created_at": int(at.timestamp()),
        # The plan's retention: the reconciler's sweep deletes the file then (delete_expired).
        "expire_at": at + dt.timedelta(days=days) if days > 0 else None,
    }


def clean_name(filename: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:255] or "upload"


def file_object(file_id: str, doc: dict[str, Any]) -> FileObject:
    return FileObject(
        id=file_id,
        bytes=int(doc["bytes"]),
        created_at=int(doc["created_at"]),
        filename=str(doc["filename"]),
        purpose=str(doc["purpose"]),
        type=str(doc["type"]),
        workspace_id=doc.get("workspace_id"),
        expires_at=int(doc["expire_at"].timestamp()) if doc.get("expire_at") else None,
    )
