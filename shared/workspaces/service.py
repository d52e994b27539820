"""Workspaces: create, read, members and roles. Invitations are in invitations.py.

Every call names the caller; a caller who is not a member of the workspace gets WorkspaceNotFound (404)
whatever the workspace, so nobody learns which workspaces exist. Role rules: members read; admins invite,
remove members and set members' limits; only owners make or unmake owners and admins, remove them or set
their limits. Nobody sets their own limit. Owners and admins change the workspace's settings (`update`):
whether members share the response cache (`share_response_cache`, off by default).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Protocol

from google.cloud import firestore

from shared.audit import trail as audit
from shared.audit.trail import AuditTrail
from shared.clock import now
from shared.errors import BadRequest
from shared.ids import new_id
from shared.ledger.wallet_ids import shard_wallet, workspace_wallet_base
from shared.plans.offers import PlanOffers
from shared.settings import Settings
from shared.workspaces.errors import (
    LastOwner,
    MemberNotFound,
    OwnLimit,
    RoleRequired,
    TooManyWorkspaces,
    WorkspaceNotFound,
)
from shared.workspaces.repository import WorkspaceRepository
from shared.workspaces.schemas import Member, Role, Workspace, WorkspaceOut, at_least

log = logging.getLogger("workspaces")


def to_workspace(workspace_id: str, doc: dict[str, Any]) -> Workspace:
    return Workspace(
        id=workspace_id,
        name=doc["name"],
        plan=doc["plan"],
        seats=int(doc["seats"]),
        wallet_id=shard_wallet(workspace_wallet_base(workspace_id), 0),
        created_by=doc["created_by"],
        created_at=doc["created_at"],
        share_response_cache=bool(doc.get("share_response_cache", False)),
    )


def to_member(doc: dict[str, Any]) -> Member:
    return Member(
        user_id=doc["user_id"],
        email=doc["email"],
        role=doc["role"],
        monthly_limit=doc.get("monthly_limit"),
        joined_at=doc["joined_at"],
    )


class Subscriptions(Protocol):
    """Where the payments record subscriptions (shared/purchases/repository.py): a workspace on a paid plan
    takes its plan and seats from the subscription in force."""

    async def active_subscription(self, wallet_id: str) -> dict[str, Any] | None: ...


class WorkspaceService:
    def __init__(
        self,
        db: firestore.AsyncClient,
        settings: Settings,
        offers: PlanOffers,
        subscriptions: Subscriptions,
        clock: Callable[[], dt.datetime] = now,
    ) -> None:
        self.repo = WorkspaceRepository(db)
        self.audit = AuditTrail(db)
        self.subscriptions = subscriptions
        self.settings = settings
        self.offers = offers
        self.clock = clock

    async def create(self, user_id: str, email: str, name: str) -> WorkspaceOut:
        name = name.strip()
        if not name:
            raise BadRequest("Give the workspace a name.", code="invalid_name")
        limit = self.settings.max_workspaces_owned
        owned = sum(1 for m in await self.repo.memberships(user_id) if m.get("role") == "owner")
        if owned >= limit:
            raise TooManyWorkspaces(limit)
        workspace_id = new_id()
        at = self.clock()
        plan = self.offers.get(self.settings.workspace_default_plan)
        doc = {
            "name": name,
            "plan": plan.name,
            "seats": plan.included_seats,
            "shards": self.settings.workspace_wallet_shards,
            "member_count": 1,
            "created_by": user_id,
            "created_at": at,
            "updated_at": at,
        }
        member = {"user_id": user_id, "workspace_id": workspace_id, "email": email, "role": "owner"}
        batch = self.repo.db.batch()
        batch.create(self.repo.workspace_ref(workspace_id), doc)
        batch.create(self.repo.member_ref(workspace_id, user_id), member | {"joined_at": at})
        item = audit.entry("workspace.create", user_id, workspace_id=workspace_id, target=workspace_id)
        batch.create(self.audit.ref(item.id), item.to_doc())
        await batch.commit()
        audit.emit(item)
        log.info("workspace created", extra={"workspace_id": workspace_id, "user_id": user_id})
        return WorkspaceOut(**to_workspace(workspace_id, doc).model_dump(), role="owner", members=1)

    async def membership(self, user_id: str, workspace_id: str, needed: Role = "member") -> dict[str, Any]:
        """The caller's member document; 404 for a non-member, 403 for a member below `needed`."""
        if not workspace_id or "/" in workspace_id:
            raise WorkspaceNotFound()
        doc = await self.repo.get(self.repo.member_ref(workspace_id, user_id))
        if doc is None:
            raise WorkspaceNotFound()
        if not at_least(doc["role"], needed):
            raise RoleRequired(needed)
        return doc

    async def shard_count(self, workspace_id: str) -> int:
        """How many shards the workspace's wallet has (1 when the workspace is gone: its credits stay on
        shard 0)."""
        doc = await self.repo.get(self.repo.workspace_ref(workspace_id))
        return max(int((doc or {}).get("shards", 1)), 1)

    async def get(self, user_id: str, workspace_id: str) -> WorkspaceOut:
        me = await self.membership(user_id, workspace_id)
        doc = await self.repo.get(self.repo.workspace_ref(workspace_id))
        if doc is None:
            raise WorkspaceNotFound()
        workspace = await self.effective(workspace_id, doc)
        return WorkspaceOut(**workspace.model_dump(), role=me["role"], members=int(doc["member_count"]))

    async def effective(self, workspace_id: str, doc: dict[str, Any]) -> Workspace:
        """The workspace with the plan and seats of its live subscription, when the payments recorded one."""
        workspace = to_workspace(workspace_id, doc)
        sub = await self.subscriptions.active_subscription(workspace.wallet_id)
        if sub and sub.get("plan"):
            offer = self.offers.get(str(sub["plan"]))
            seats = min(max(int(sub.get("seats") or 1), 1), offer.max_seats)
            workspace = workspace.model_copy(update={"plan": offer.name, "seats": seats})
        return workspace

    async def update(
        self, user_id: str, workspace_id: str, share_response_cache: bool | None
    ) -> WorkspaceOut:
        """Change the workspace's settings (owners and admins: 403 role_required for a member, 404 for a
        non-member; nothing changes on a refusal)."""
        if share_response_cache is None:
            raise BadRequest("Send share_response_cache (true or false).", code="nothing_to_change")
        if not workspace_id or "/" in workspace_id:
            raise WorkspaceNotFound()
        repo = self.repo
        ws_ref, me_ref = repo.workspace_ref(workspace_id), repo.member_ref(workspace_id, user_id)
        item = audit.entry(
            "workspace.update",
            user_id,
            workspace_id=workspace_id,
            target=workspace_id,
            details={"share_response_cache": share_response_cache},
        )

        @firestore.async_transactional
        async def body(tx: Any) -> None:
            ws, me = await repo.read(tx, ws_ref, me_ref)
            if ws is None or me is None:
                raise WorkspaceNotFound()
            if not at_least(me["role"], "admin"):
                raise RoleRequired("admin")
            tx.update(ws_ref, {"share_response_cache": share_response_cache, "updated_at": self.clock()})
            self.audit.add(tx, item)

        await body(repo.db.transaction())
        audit.emit(item)
        log.info(
            "workspace updated",
            extra={"workspace_id": workspace_id, "by": user_id, "share_response_cache": share_response_cache},
        )
        return await self.get(user_id, workspace_id)

    async def shares_response_cache(self, workspace_id: str) -> bool:
        """Whether the workspace's members are served each other's cached answers (shared/chat/caching.py)."""
        doc = await self.repo.get(self.repo.workspace_ref(workspace_id))
        return bool((doc or {}).get("share_response_cache", False))

    async def list_mine(self, user_id: str) -> list[WorkspaceOut]:
        out = []
        for member in await self.repo.memberships(user_id):
            doc = await self.repo.get(self.repo.workspace_ref(member["workspace_id"]))
            if doc is not None:
                workspace = await self.effective(member["workspace_id"], doc)
                out.append(
                    WorkspaceOut(**workspace.model_dump(), role=member["role"], members=doc["member_count"])
                )
        return sorted(out, key=lambda w: w.created_at)

    async def members(self, user_id: str, workspace_id: str) -> list[Member]:
        await self.membership(user_id, workspace_id)
        return [to_member(doc) for doc in await self.repo.members(workspace_id)]

    async def update_member(
        self,
        user_id: str,
        workspace_id: str,
        target_id: str,
        role: Role | None,
        monthly_limit: int | None,
        clear_limit: bool,
    ) -> Member:
        """Change a member's role or monthly limit. Admins set members' limits and make members; owners do
        the rest; nobody changes their own limit."""
        if role is None and monthly_limit is None and not clear_limit:
            raise BadRequest("Send a role, a monthly_limit or clear_limit.", code="nothing_to_change")
        me = await self.membership(user_id, workspace_id, "admin")
        sets_limit = monthly_limit is not None or clear_limit
        if sets_limit and target_id == user_id:
            raise OwnLimit()
        repo = self.repo
        ws_ref, target_ref = repo.workspace_ref(workspace_id), repo.member_ref(workspace_id, target_id)

        @firestore.async_transactional
        async def body(tx: Any) -> dict[str, Any]:
            ws, target = await repo.read(tx, ws_ref, target_ref)
            if ws is None or target is None:
                raise MemberNotFound()
            touches_admin = role in ("owner", "admin") or target["role"] in ("owner", "admin")
            if role is not None and role != target["role"] and touches_admin and me["role"] != "owner":
                raise RoleRequired("owner")
            if sets_limit and target["role"] != "member" and me["role"] != "owner":
                raise RoleRequired("owner")
            if target["role"] == "owner" and role not in (None, "owner"):
                await self._keep_an_owner(tx, workspace_id)
            changes: dict[str, Any] = {}
            if role is not None:
                changes["role"] = role
            if sets_limit:
                changes["monthly_limit"] = None if clear_limit else monthly_limit
            tx.update(target_ref, changes)
            tx.update(ws_ref, {"updated_at": self.clock()})
            self.audit.add(tx, item)
            return target | changes

        details: dict[str, audit.Detail] = {
            "role": role,
            "monthly_limit": monthly_limit,
            "clear_limit": clear_limit,
        }
        item = audit.entry(
            "workspace.member_update", user_id, workspace_id=workspace_id, target=target_id, details=details
        )
        updated = await body(repo.db.transaction())
        audit.emit(item)
        log.info("member updated", extra={"workspace_id": workspace_id, "member": target_id, "by": user_id})
        return to_member(updated)

    async def remove(self, user_id: str, workspace_id: str, target_id: str) -> None:
        """Remove a member (admins remove members; owners anyone); leaving is removing oneself."""
        me = await self.membership(user_id, workspace_id)
        if target_id != user_id and not at_least(me["role"], "admin"):
            raise RoleRequired("admin")
        repo = self.repo
        ws_ref, target_ref = repo.workspace_ref(workspace_id), repo.member_ref(workspace_id, target_id)

        @firestore.async_transactional
        async def body(tx: Any) -> None:
            ws, target = await repo.read(tx, ws_ref, target_ref)
            if ws is None or target is None:
                raise MemberNotFound()
            if target_id != user_id and target["role"] != "member" and me["role"] != "owner":
                raise RoleRequired("owner")
            if target["role"] == "owner":
                await self._keep_an_owner(tx, workspace_id)
            tx.delete(target_ref)
            tx.update(ws_ref, {"member_count": int(ws["member_count"]) - 1, "updated_at": self.clock()})
            self.audit.add(tx, item)

        action = "workspace.member_leave" if target_id == user_id else "workspace.member_remove"
        item = audit.entry(action, user_id, workspace_id=workspace_id, target=target_id)
        await body(repo.db.transaction())
        audit.emit(item)
        log.info("member removed", extra={"workspace_id": workspace_id, "member": target_id, "by": user_id})

    async def _keep_an_owner(self, tx: Any, workspace_id: str) -> None:
        """Refuse a change that would leave the workspace without an owner (read inside the transaction)."""
        owners = await self.repo.owners(tx, workspace_id, 2)
        if len(owners) < 2:
            raise LastOwner()
