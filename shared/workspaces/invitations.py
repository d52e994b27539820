"""Invitations by email: an admin invites, the invited user accepts with the token.

The token is signed and expires (invites.py); the invitation document makes it single use. Seats: the
members plus the invitations still pending may not exceed the workspace's seats, checked in the same
transaction that writes the invitation (or the membership), which also writes the workspace document so
that concurrent invitations serialize.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from google.cloud import firestore

from shared.audit import trail as audit
from shared.auth.errors import EmailNotVerified
from shared.auth.passwords import normalise_email
from shared.errors import BadRequest
from shared.ids import new_id
from shared.workspaces.errors import (
    AlreadyMember,
    InvalidInvitation,
    InvitationEmailMismatch,
    InvitationNotFound,
    RoleRequired,
    SeatsFull,
    WorkspaceNotFound,
)
from shared.workspaces.invite_tokens import InviteClaims, InviteTokens
from shared.workspaces.schemas import Invitation, InvitationCreated, Role, WorkspaceOut
from shared.workspaces.service import WorkspaceService

log = logging.getLogger("workspaces.invitations")


def to_invitation(doc: dict[str, Any]) -> Invitation:
    return Invitation(
        id=doc["id"], email=doc["email"], role=doc["role"], expires_at=doc["expires_at"], state=doc["state"]
    )


class Invitations:
    def __init__(self, workspaces: WorkspaceService, tokens: InviteTokens) -> None:
        self.workspaces = workspaces
        self.repo = workspaces.repo
        self.audit = workspaces.audit
        self.tokens = tokens

    async def invite(self, user_id: str, workspace_id: str, email: str, role: Role) -> InvitationCreated:
        me = await self.workspaces.membership(user_id, workspace_id, "admin")
        if role == "owner":
            raise BadRequest("Invite as admin or member; make an owner after they join.", code="invalid_role")
        if role == "admin" and me["role"] != "owner":
            raise RoleRequired("owner")
        email = normalise_email(email)
        ws_ref = self.repo.workspace_ref(workspace_id)
        current = await self.repo.get(ws_ref)
        if current is None:
            raise WorkspaceNotFound()
        seats = (await self.workspaces.effective(workspace_id, current)).seats
        invite_id = new_id()
        at = self.workspaces.clock()
        expires_at = at + dt.timedelta(seconds=self.workspaces.settings.workspace_invite_ttl_s)
        doc = {
            "id": invite_id,
            "workspace_id": workspace_id,
            "email": email,
            "role": role,
            "state": "pending",
            "created_by": user_id,
            "created_at": at,
            "expires_at": expires_at,
        }

        @firestore.async_transactional
        async def body(tx: Any) -> None:
            (ws,) = await self.repo.read(tx, ws_ref)
            if ws is None:
                raise WorkspaceNotFound()
            pending = [i for i in await self.repo.pending_invites(tx, workspace_id) if i["expires_at"] > at]
            if await self.repo.member_with_email(tx, workspace_id, email):
                raise AlreadyMember()
            if any(i["email"] == email for i in pending):
                raise BadRequest(
                    f"{email} already has a pending invitation; revoke it to send a new one.",
                    code="already_invited",
                )
            if int(ws["member_count"]) + len(pending) + 1 > seats:
                raise SeatsFull(seats)
            tx.create(self.repo.invite_ref(workspace_id, invite_id), doc)
            tx.update(ws_ref, {"updated_at": at})
            self.audit.add(tx, item)

        details: dict[str, audit.Detail] = {"role": role}  # the address stays out of the trail
        item = audit.entry(
            "workspace.invite", user_id, workspace_id=workspace_id, target=invite_id, details=details
        )
        await body(self.repo.db.transaction())
        audit.emit(item)
        token = self.tokens.issue(InviteClaims(workspace_id, invite_id, email), at, expires_at)
        log.info(
            "invitation sent", extra={"workspace_id": workspace_id, "invite_id": invite_id, "by": user_id}
        )
        return InvitationCreated(**to_invitation(doc).model_dump(), token=token)

    async def list(self, user_id: str, workspace_id: str) -> list[Invitation]:
        await self.workspaces.membership(user_id, workspace_id, "admin")
        return [to_invitation(doc) for doc in await self.repo.invites(workspace_id)]

    async def revoke(self, user_id: str, workspace_id: str, invite_id: str) -> Invitation:
        await self.workspaces.membership(user_id, workspace_id, "admin")
        ref = self.repo.invite_ref(workspace_id, invite_id)

        @firestore.async_transactional
        async def body(tx: Any) -> dict[str, Any]:
            (doc,) = await self.repo.read(tx, ref)
            if doc is None:
                raise InvitationNotFound()
            if doc["state"] == "pending":
                doc["state"] = "revoked"
                tx.update(ref, {"state": "revoked", "revoked_by": user_id})
                self.audit.add(tx, item)
                revoked.append(item)
            return doc

        item = audit.entry("workspace.invite_revoke", user_id, workspace_id=workspace_id, target=invite_id)
        revoked: list[audit.AuditEntry] = []
        invitation = to_invitation(await body(self.repo.db.transaction()))
        for done in revoked[-1:]:
            audit.emit(done)
        return invitation

    async def accept(
        self, user_id: str, user_email: str, token: str, *, email_verified: bool
    ) -> WorkspaceOut:
        """Join with the token; the address must be verified (issue 11, item 12), checked before anything
        is read or written: an invitation names an address, and an unverified one proves nobody owns it."""
        if not email_verified:
            raise EmailNotVerified("accept an invitation")
        at = self.workspaces.clock()
        claims = self.tokens.verify(token, at)
        if normalise_email(user_email) != claims.email:
            raise InvitationEmailMismatch()
        workspace_id = claims.workspace_id
        ws_ref = self.repo.workspace_ref(workspace_id)
        invite_ref = self.repo.invite_ref(workspace_id, claims.invite_id)
        member_ref = self.repo.member_ref(workspace_id, user_id)
        current = await self.repo.get(ws_ref)
        if current is None:
            raise InvalidInvitation("its workspace no longer exists")
        seats = (await self.workspaces.effective(workspace_id, current)).seats

        @firestore.async_transactional
        async def body(tx: Any) -> None:
            ws, invite, member = await self.repo.read(tx, ws_ref, invite_ref, member_ref)
            if ws is None or invite is None:
                raise InvalidInvitation("it no longer exists")
            if invite["state"] != "pending":
                raise InvalidInvitation(f"it was already {invite['state']}")
            if invite["expires_at"] <= at:
                raise InvalidInvitation("it has expired")
            if member is not None:
                raise AlreadyMember()
            if int(ws["member_count"]) + 1 > seats:
                raise SeatsFull(seats)
            tx.update(invite_ref, {"state": "accepted", "accepted_by": user_id, "accepted_at": at})
            tx.create(
                member_ref,
                {
                    "user_id": user_id,
                    "workspace_id": workspace_id,
                    "email": claims.email,
                    "role": invite["role"],
                    "monthly_limit": None,
                    "joined_at": at,
                },
            )
            tx.update(ws_ref, {"member_count": int(ws["member_count"]) + 1, "updated_at": at})
            self.audit.add(tx, item)

        target = claims.invite_id
        item = audit.entry(
            "workspace.invite_accept", user_id, account=user_id, workspace_id=workspace_id, target=target
        )
        await body(self.repo.db.transaction())
        audit.emit(item)
        log.info("invitation accepted", extra={"workspace_id": workspace_id, "user_id": user_id})
        return await self.workspaces.get(user_id, workspace_id)
