"""Assistants in Firestore (`assistants/{id}`): a user's (only they see it) or a workspace's (made with
X-Workspace-ID: its members use it, its owners and admins change it). Anything else is a 404, the same as
an assistant that does not exist. Everything is checked before anything is written: the model exists and
the owner's plan may call it, the avatar is a file the caller can read, the vector store is the owner's."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.assistants.schemas import (
    Assistant,
    AssistantCreate,
    AssistantDeleted,
    AssistantFields,
    AssistantList,
)
from shared.auth.schemas import Principal
from shared.catalog.catalog import Catalog
from shared.clock import now
from shared.errors import BadRequest, Conflict, NotFound
from shared.ids import new_id
from shared.plans.offers import PlanOffers, ensure_model_allowed
from shared.workspaces.ownership import check_readable
from shared.workspaces.schemas import Role
from shared.workspaces.service import WorkspaceService

log = logging.getLogger("assistants")

ASSISTANTS = "assistants"
MAX_LIST = 100

# Raises (404) unless `principal` may read the file / the vector store: the Files and vector-store services.
FileCheck = Callable[[Principal, str], Awaitable[Any]]


class AssistantNotFound(NotFound):
    code = "assistant_not_found"

    def __init__(self) -> None:
        super().__init__("No such assistant (or not yours): list yours with GET /v1/assistants.")


class AssistantService:
    def __init__(
        self,
        db: firestore.AsyncClient,
        workspaces: WorkspaceService,
        catalog: Catalog,
        offers: PlanOffers,
        *,
        max_per_owner: int,
        file_check: FileCheck,
        store_check: FileCheck,
    ) -> None:
        self._db = db
        self._workspaces = workspaces
        self._catalog = catalog
        self._offers = offers
        self._max = max_per_owner
        self._file_check = file_check
        self._store_check = store_check

    def _ref(self, assistant_id: str) -> Any:
        if not assistant_id.startswith("asst_") or "/" in assistant_id or len(assistant_id) > 64:
            raise AssistantNotFound()
        return self._db.collection(ASSISTANTS).document(assistant_id)

    async def create(self, principal: Principal, body: AssistantCreate) -> Assistant:
        ws = principal.workspace_id
        if ws is not None:
            await self._workspaces.membership(principal.user_id, ws, "admin")
        await self._check(principal, body)
        field, owner_id = ("workspace_id", ws) if ws else ("user_id", principal.user_id)
        query = self._db.collection(ASSISTANTS).where(filter=FieldFilter(field, "==", owner_id))
        if int((await query.count().get())[0][0].value) >= self._max:
            raise Conflict(
                f"At most {self._max} assistants per owner; delete one you no longer use.",
                code="too_many_assistants",
            )
        assistant_id = f"asst_{new_id()}"
        at = now()
        doc = _fields(body) | {
            "owner": "workspace" if ws else "user",
            "user_id": None if ws else principal.user_id,
            "workspace_id": ws,
            "created_by": principal.user_id,
            "created_at": int(at.timestamp()),
            "created_us": int(at.timestamp() * 1_000_000),  # the list's order (seconds tie too often)
        }
        await self._ref(assistant_id).create(doc)
        log.info("assistant created", extra={"assistant_id": assistant_id, "workspace_id": ws})
        return _assistant(assistant_id, doc)

    async def get(self, principal: Principal, assistant_id: str) -> Assistant:
        return _assistant(assistant_id, await self._readable(principal, assistant_id))

    async def update(self, principal: Principal, assistant_id: str, body: AssistantFields) -> Assistant:
        doc = await self._writable(principal, assistant_id)
        await self._check(principal, body)
        changed = _fields(body, only_set=True)
        await self._ref(assistant_id).update(changed | {"updated_by": principal.user_id})
        return _assistant(assistant_id, doc | changed)

    async def delete(self, principal: Principal, assistant_id: str) -> AssistantDeleted:
        await self._writable(principal, assistant_id)
        await self._ref(assistant_id).delete()
        return AssistantDeleted(id=assistant_id)

    async def list_for(
        self, principal: Principal, limit: int, order: Literal["asc", "desc"], after: str | None
    ) -> AssistantList:
        ws = principal.workspace_id
        if ws is not None:
            await self._member(principal, ws)
        field, owner_id = ("workspace_id", ws) if ws else ("user_id", principal.user_id)
        query = self._db.collection(ASSISTANTS).where(filter=FieldFilter(field, "==", owner_id))
        direction = firestore.Query.ASCENDING if order == "asc" else firestore.Query.DESCENDING
        query = query.order_by("created_us", direction=direction).order_by("__name__", direction=direction)
        if after:
            cursor = await self._ref(after).get()
            if not cursor.exists or (cursor.to_dict() or {}).get(field) != owner_id:
                raise BadRequest(
                    "`after` must be the id of one of the listed assistants.", code="invalid_cursor"
                )
            query = query.start_after(cursor)
        found = [_assistant(s.id, s.to_dict() or {}) async for s in query.limit(limit + 1).stream()]
        page = found[:limit]
        return AssistantList(
            data=page,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
            has_more=len(found) > limit,
        )

    async def _check(self, principal: Principal, body: AssistantFields) -> None:
        if body.model is not None:
            spec, _ = self._catalog.resolve(body.model)
            ensure_model_allowed(self._offers.get(principal.plan), spec.id)
        if body.avatar_file_id is not None:
            await self._file_check(principal, body.avatar_file_id)
        stores = body.tool_resources.file_search if body.tool_resources else None
        for store_id in stores.vector_store_ids if stores else []:
            await self._store_check(principal, store_id)

    async def _member(self, principal: Principal, workspace_id: str, role: Role = "member") -> None:
        await self._workspaces.membership(principal.user_id, workspace_id, role)

    async def _readable(self, principal: Principal, assistant_id: str) -> dict[str, Any]:
        snap = await self._ref(assistant_id).get()
        doc: dict[str, Any] | None = snap.to_dict() if snap.exists else None
        if doc is None:
            raise AssistantNotFound()
        await check_readable(self._workspaces, principal, doc, AssistantNotFound)
        return doc

    async def _writable(self, principal: Principal, assistant_id: str) -> dict[str, Any]:
        doc = await self._readable(principal, assistant_id)
        if doc.get("owner") == "workspace":
            await self._member(principal, str(doc["workspace_id"]), "admin")
        return doc


def _fields(body: AssistantFields, only_set: bool = False) -> dict[str, Any]:
    """What to store: every field given (create), or only those the update names (null clears one)."""
    return body.model_dump(mode="json", exclude_unset=only_set, exclude_none=not only_set)


def _assistant(assistant_id: str, doc: dict[str, Any]) -> Assistant:
    return Assistant(
        id=assistant_id,
        created_at=int(doc["created_at"]),
        name=doc.get("name"),
        description=doc.get("description"),
        model=str(doc["model"]),
        instructions=doc.get("instructions"),
        tools=list(doc.get("tools") or []),
        tool_resources=dict(doc.get("tool_resources") or {}),
        metadata=dict(doc.get("metadata") or {}),
        temperature=doc.get("temperature"),
        top_p=doc.get("top_p"),
        response_format=doc.get("response_format") or "auto",
        conversation_starters=list(doc.get("conversation_starters") or []),
        avatar_file_id=doc.get("avatar_file_id"),
        workspace_id=doc.get("workspace_id"),
    )
