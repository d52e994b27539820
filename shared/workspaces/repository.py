"""Workspaces in Firestore: `workspaces/{id}` (name, plan, seats, shards, member_count),
`workspaces/{id}/members/{user_id}` and `workspaces/{id}/invites/{id}`.

Every change to who belongs (create, invite, accept, remove, leave, role change) is a transaction that
also writes the workspace document, so two of them on one workspace serialize: seats and the last owner
are checked against what is really there.
"""

from __future__ import annotations

from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

WORKSPACES = "workspaces"
MONTHS = "months"
SPENDS = "holds"
MEMBERS = "members"
INVITES = "invites"


class WorkspaceRepository:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self.db = db

    def workspace_ref(self, workspace_id: str) -> Any:
        return self.db.collection(WORKSPACES).document(workspace_id)

    def member_ref(self, workspace_id: str, user_id: str) -> Any:
        return self.workspace_ref(workspace_id).collection(MEMBERS).document(user_id)

    def invite_ref(self, workspace_id: str, invite_id: str) -> Any:
        return self.workspace_ref(workspace_id).collection(INVITES).document(invite_id)

    def month_ref(self, workspace_id: str, user_id: str, month: str) -> Any:
        """A member's spending counter for one UTC month (shared/spending/members.py)."""
        return self.member_ref(workspace_id, user_id).collection(MONTHS).document(month)

    def spend_ref(self, workspace_id: str, hold_id: str) -> Any:
        """A member's reservation on the workspace wallet, as the monthly limit counted it."""
        return self.workspace_ref(workspace_id).collection(SPENDS).document(hold_id)

    async def owners(self, tx: Any, workspace_id: str, limit: int) -> list[Any]:
        """Up to `limit` owners' member documents, read inside the transaction."""
        query = (
            self.workspace_ref(workspace_id)
            .collection(MEMBERS)
            .where(filter=FieldFilter("role", "==", "owner"))
            .limit(limit)
        )
        return [snap async for snap in await tx.get(query)]

    async def read(self, tx: Any, *refs: Any) -> list[dict[str, Any] | None]:
        """The documents of `refs` (None where absent), read inside the transaction, in order."""
        found = {snap.reference.path: snap async for snap in self.db.get_all(list(refs), transaction=tx)}
        return [found[ref.path].to_dict() if found[ref.path].exists else None for ref in refs]

    async def get(self, ref: Any) -> dict[str, Any] | None:
        snap = await ref.get()
        return snap.to_dict() if snap.exists else None

    async def pending_invites(self, tx: Any, workspace_id: str) -> list[dict[str, Any]]:
        query = (
            self.workspace_ref(workspace_id)
            .collection(INVITES)
            .where(filter=FieldFilter("state", "==", "pending"))
        )
        return [snap.to_dict() async for snap in await tx.get(query)]

    async def member_with_email(self, tx: Any, workspace_id: str, email: str) -> bool:
        query = (
            self.workspace_ref(workspace_id)
            .collection(MEMBERS)
            .where(filter=FieldFilter("email", "==", email))
            .limit(1)
        )
        return bool([snap async for snap in await tx.get(query)])

    async def memberships(self, user_id: str) -> list[dict[str, Any]]:
        query = self.db.collection_group(MEMBERS).where(filter=FieldFilter("user_id", "==", user_id))
        return [snap.to_dict() async for snap in query.stream()]

    async def members(self, workspace_id: str) -> list[dict[str, Any]]:
        query = self.workspace_ref(workspace_id).collection(MEMBERS).order_by("joined_at")
        return [snap.to_dict() async for snap in query.stream()]

    async def invites(self, workspace_id: str) -> list[dict[str, Any]]:
        query = self.workspace_ref(workspace_id).collection(INVITES).order_by("created_at")
        return [snap.to_dict() async for snap in query.stream()]
