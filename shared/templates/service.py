"""Templates in Firestore: `templates/{id}` (the current version) and `templates/{id}/versions/{n}` (every
earlier one). A template belongs to a user (only they see it) or to a workspace (its members use it, its
owners and admins edit it); the built-ins belong to nobody and everyone reads them. Anything else is a
404, the same as a template that does not exist."""

from __future__ import annotations

import logging
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.auth.schemas import Principal
from shared.clock import now
from shared.errors import Conflict, NotFound
from shared.ids import new_id
from shared.templates.library import builtins
from shared.templates.render import placeholders, render
from shared.templates.schemas import Rendered, Template, TemplateIn, Variable
from shared.workspaces.errors import WorkspaceNotFound
from shared.workspaces.service import WorkspaceService

log = logging.getLogger("templates")

TEMPLATES = "templates"
VERSIONS = "versions"


class TemplateNotFound(NotFound):
    code = "template_not_found"

    def __init__(self) -> None:
        super().__init__(
            "No such template (or not yours): list yours and the built-ins with GET /v1/templates."
        )


class TemplateService:
    def __init__(self, db: firestore.AsyncClient, workspaces: WorkspaceService, max_per_owner: int) -> None:
        self._db = db
        self._workspaces = workspaces
        self._max = max_per_owner

    def _ref(self, template_id: str) -> Any:
        if not template_id.startswith("tpl_") or "/" in template_id or len(template_id) > 80:
            raise TemplateNotFound()
        return self._db.collection(TEMPLATES).document(template_id)

    async def list_for(
        self, principal: Principal, workspace_id: str | None, language: str | None, category: str | None
    ) -> list[Template]:
        found = list(builtins().values())
        found += await self._owned("user_id", principal.user_id)
        if workspace_id is not None:
            await self._workspaces.membership(principal.user_id, workspace_id)
            found += await self._owned("workspace_id", workspace_id)
        return [
            t
            for t in found
            if (language is None or t.language == language) and (category is None or t.category == category)
        ]

    async def get(self, principal: Principal, template_id: str) -> Template:
        template, _ = await self._readable(principal, template_id)
        return template

    async def create(self, principal: Principal, body: TemplateIn, workspace_id: str | None) -> Template:
        if workspace_id is not None:
            await self._workspaces.membership(principal.user_id, workspace_id, "admin")
        field, owner_id = ("workspace_id", workspace_id) if workspace_id else ("user_id", principal.user_id)
        query = self._db.collection(TEMPLATES).where(filter=FieldFilter(field, "==", owner_id))
        if int((await query.count().get())[0][0].value) >= self._max:
            raise Conflict(
                f"At most {self._max} templates per owner; delete one you no longer use.",
                code="too_many_templates",
            )
        at = now()
        template_id = f"tpl_{new_id()}"
        doc = _doc(body) | {
            "owner": "workspace" if workspace_id else "user",
            "user_id": None if workspace_id else principal.user_id,
            "workspace_id": workspace_id,
            "created_by": principal.user_id,
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }
        await self._ref(template_id).create(doc)
        return _template(template_id, doc)

    async def update(self, principal: Principal, template_id: str, body: TemplateIn) -> Template:
        """A new version; the one it replaces is kept under versions/."""
        await self._writable(principal, template_id)
        ref = self._ref(template_id)

        @firestore.async_transactional
        async def write(tx: Any) -> dict[str, Any]:
            snap = await ref.get(transaction=tx)
            latest = snap.to_dict() or {}
            if not snap.exists:
                raise TemplateNotFound()
            version = int(latest["version"])
            tx.create(ref.collection(VERSIONS).document(str(version)), latest)
            new = (
                latest
                | _doc(body)
                | {"version": version + 1, "updated_at": now(), "updated_by": principal.user_id}
            )
            tx.set(ref, new)
            return new

        return _template(template_id, await write(self._db.transaction()))

    async def versions(self, principal: Principal, template_id: str) -> list[Template]:
        current, _ = await self._readable(principal, template_id)
        if current.owner == "builtin":
            return [current]
        older = (
            self._ref(template_id)
            .collection(VERSIONS)
            .order_by("version", direction=firestore.Query.DESCENDING)
        )
        return [current] + [_template(template_id, s.to_dict() or {}) async for s in older.stream()]

    async def delete(self, principal: Principal, template_id: str) -> None:
        await self._writable(principal, template_id)
        await self._db.recursive_delete(self._ref(template_id))

    async def render(self, principal: Principal, template_id: str, values: dict[str, object]) -> Rendered:
        template, _ = await self._readable(principal, template_id)
        return Rendered(template_id=template.id, version=template.version, text=render(template.body, values))

    # Access.

    async def _readable(self, principal: Principal, template_id: str) -> tuple[Template, dict[str, Any]]:
        builtin = builtins().get(template_id)
        if builtin is not None:
            return builtin, {}
        snap = await self._ref(template_id).get()
        doc = snap.to_dict() if snap.exists else None
        if doc is None:
            raise TemplateNotFound()
        if doc.get("owner") == "user" and doc.get("user_id") != principal.user_id:
            raise TemplateNotFound()
        if doc.get("owner") == "workspace":
            try:
                await self._workspaces.membership(principal.user_id, str(doc["workspace_id"]))
            except WorkspaceNotFound as exc:
                raise TemplateNotFound() from exc
        return _template(template_id, doc), doc

    async def _writable(self, principal: Principal, template_id: str) -> tuple[Template, dict[str, Any]]:
        template, doc = await self._readable(principal, template_id)
        if template.owner == "builtin":
            raise Conflict(
                "Built-in templates cannot be changed; copy one into a template of your own.",
                code="builtin_template",
            )
        if template.owner == "workspace":
            await self._workspaces.membership(principal.user_id, str(doc["workspace_id"]), "admin")
        return template, doc

    async def _owned(self, field: str, value: str) -> list[Template]:
        query = self._db.collection(TEMPLATES).where(filter=FieldFilter(field, "==", value))
        return [_template(s.id, s.to_dict() or {}) async for s in query.stream()]


def _doc(body: TemplateIn) -> dict[str, Any]:
    return {
        "name": body.name,
        "category": body.category,
        "language": body.language,
        "body": body.body,
        "variables": dict(body.variables),
    }


def _template(template_id: str, doc: dict[str, Any]) -> Template:
    described: dict[str, str] = doc.get("variables") or {}
    return Template(
        id=template_id,
        name=doc["name"],
        category=doc["category"],
        language=doc["language"],
        body=doc["body"],
        variables=[Variable(name=n, description=described.get(n, "")) for n in placeholders(doc["body"])],
        owner=doc.get("owner", "user"),
        workspace_id=doc.get("workspace_id"),
        version=int(doc.get("version", 1)),
        created_at=doc.get("created_at"),
        updated_at=doc.get("updated_at"),
    )
