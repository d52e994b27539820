"""`DELETE /v1/me`: the account and its content go; what the law needs stays, without the person.

Refused first, with nothing changed: an API key's call (a signed-in session only, 403), a missing
confirmation (400 `confirmation_required`), the owner of a workspace (409 `ownership_transfer_needed`,
naming the workspaces: hand ownership over, or delete them, first).

Then, in an order that a retry (a crash, a timeout) can run again from the start until it is done:
1. the user document is marked `deleting`: from here no credential of the account is accepted, so no new
   content arrives while the rest is removed;
2. API keys revoked, every sign-in session (refresh-token family) revoked;
3. unfinished jobs cancelled (their holds give back what they did not spend), then every job document,
   thread (with its messages) and stored Response deleted, the account's own files' documents (`files`,
   and its `file_usage` counter; a workspace's files stay the workspace's), and every object under
   `users/{id}/` in the bucket (job results, exports, files); the files' chunks leave every vector store,
   and the account's own vector stores go with their chunks;
4. the account leaves every workspace it belongs to;
5. the email and Google sign-in claims deleted (the address may sign up again), the user document
   replaced by a tombstone: no email (a placeholder that is no address), no password, no Google subject.

Kept, as the law and the books need them: the ledger (wallet and entries), payment records and usage
records (ids, counts and prices, never content) and the audit trail, whose `account.delete` entry says
what was removed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock
from shared.adapters.storage import BlobStore
from shared.audit import trail as audit
from shared.audit.trail import AuditTrail
from shared.auth.api_keys import ApiKeyRepository
from shared.auth.errors import SessionRequired
from shared.auth.repository import IDENTITIES, USER_EMAILS, USERS
from shared.auth.schemas import Principal
from shared.auth.sessions import FAMILIES
from shared.errors import BadRequest, Conflict
from shared.files.quota import USAGE
from shared.files.service import FILES
from shared.files.uploads import UPLOADS
from shared.jobs.repository import JOBS
from shared.jobs.schemas import TERMINAL
from shared.jobs.service import JobService
from shared.knowledge.repository import STORES, KnowledgeRepository
from shared.templates.service import TEMPLATES
from shared.workspaces.service import WorkspaceService

log = logging.getLogger("account")

CONFIRMATION = "delete my account"
PAGE = 200


@dataclass(frozen=True)
class Deleted:
    threads: int
    jobs: int
    objects: int
    api_keys: int
    sessions: int
    workspaces_left: int
    files: int = 0
    templates: int = 0
    vector_stores: int = 0


def tombstone_email(user_id: str) -> str:
    """What replaces the address: unique per account, and no address anybody can receive mail at."""
    return f"deleted-account-{user_id}"


class AccountDeletion:
    def __init__(
        self,
        db: firestore.AsyncClient,
        store: BlobStore,
        workspaces: WorkspaceService,
        jobs: JobService,
    ) -> None:
        self._db = db
        self._store = store
        self._workspaces = workspaces
        self._jobs = jobs
        self._keys = ApiKeyRepository(db)
        self._knowledge = KnowledgeRepository(db, store)
        self._audit = AuditTrail(db)

    async def delete(self, principal: Principal, confirm: str | None) -> Deleted:
        if principal.auth != "jwt":
            raise SessionRequired()
        if (confirm or "").strip().lower() != CONFIRMATION:
            raise BadRequest(
                f'Send {{"confirm": "{CONFIRMATION}"}} to delete your account and its content.',
                code="confirmation_required",
            )
        uid = principal.user_id
        memberships = await self._workspaces.repo.memberships(uid)
        owned = sorted(m["workspace_id"] for m in memberships if m.get("role") == "owner")
        if owned:
            raise Conflict(
                "You own workspaces " + ", ".join(owned) + ": make another member an owner (or remove "
                "the workspace's members and leave it last) before deleting your account.",
                code="ownership_transfer_needed",
            )
        user_ref = self._db.collection(USERS).document(uid)
        await user_ref.update({"state": "deleting", "deleting_since": clock.now()})
        api_keys = await self._revoke_keys(uid)
        sessions = await self._revoke_sessions(uid)
        jobs = await self._remove_jobs(principal)
        threads = await self._remove_threads(uid)
        threads += await self._remove_responses(uid)
        files = await self._remove_files(uid)
        templates = await self._remove_templates(uid)
        stores = await self._remove_stores(uid)
        objects = await self._store.delete_prefix(f"users/{uid}/")
        left = 0
        for member in memberships:
            await self._workspaces.remove(uid, member["workspace_id"], uid)
            left += 1
        done = Deleted(threads, jobs, objects, api_keys, sessions, left, files, templates, stores)
        await self._tombstone(uid, done)
        log.info("account deleted", extra={"user_id": uid, **done.__dict__})
        return done

    async def _revoke_keys(self, uid: str) -> int:
        at = clock.now()
        keys = await self._keys.active_for(uid)
        for key in keys:
            await self._keys.revoke(uid, key.id, at)
        return len(keys)

    async def _revoke_sessions(self, uid: str) -> int:
        query = self._db.collection(FAMILIES).where(filter=FieldFilter("user_id", "==", uid))
        revoked = 0
        async for snap in query.stream():
            if not (snap.to_dict() or {}).get("revoked"):
                await snap.reference.update(
                    {"revoked": True, "revoked_at": clock.now(), "revoked_reason": "deleted"}
                )
                revoked += 1
        return revoked

    async def _remove_jobs(self, principal: Principal) -> int:
        removed = 0
        query = self._db.collection(JOBS).where(filter=FieldFilter("user_id", "==", principal.user_id))
        while snaps := [s async for s in query.limit(PAGE).stream()]:
            for snap in snaps:
                if (snap.to_dict() or {}).get("state") not in TERMINAL:
                    await self._jobs.cancel(principal, snap.id)  # its hold gives back what was not spent
                await self._db.recursive_delete(snap.reference)
                removed += 1
        return removed

    async def _remove_threads(self, uid: str) -> int:
        removed = 0
        query = self._db.collection("threads").where(filter=FieldFilter("user_id", "==", uid))
        while snaps := [s async for s in query.limit(PAGE).stream()]:
            for snap in snaps:
                await self._db.recursive_delete(snap.reference)
                removed += 1
        return removed

    async def _remove_responses(self, uid: str) -> int:
        """Stored Responses (POST /v1/responses) and their inputs; counted with the threads."""
        removed = 0
        query = self._db.collection("responses").where(filter=FieldFilter("user_id", "==", uid))
        while snaps := [s async for s in query.limit(PAGE).stream()]:
            batch = self._db.batch()
            for snap in snaps:
                batch.delete(snap.reference)
                batch.delete(self._db.collection("response_inputs").document(snap.id))
            await batch.commit()
            removed += len(snaps)
        return removed

    async def _remove_templates(self, uid: str) -> int:
        """The account's own prompt templates with their version history (a workspace's stay with it)."""
        removed = 0
        query = self._db.collection(TEMPLATES).where(filter=FieldFilter("user_id", "==", uid))
        while snaps := [s async for s in query.limit(PAGE).stream()]:
            for snap in snaps:
                await self._db.recursive_delete(snap.reference)
                removed += 1
        return removed

    async def _remove_files(self, uid: str) -> int:
        """The documents of the account's own files (their bytes go with its folder in the bucket)."""
        owner = f"user_{uid}"
        removed = 0
        query = self._db.collection(FILES).where(filter=FieldFilter("owner", "==", owner))
        while snaps := [s async for s in query.limit(PAGE).stream()]:
            for snap in snaps:  # out of every vector store's search first
                await self._knowledge.forget_file(snap.id, int(clock.now().timestamp()))
            batch = self._db.batch()
            for snap in snaps:
                batch.delete(snap.reference)
            await batch.commit()
            removed += len(snaps)
        await self._db.collection(USAGE).document(owner).delete()
        # The account's uploads, their bytes too (a workspace's are not under the account's folder).
        uploads = self._db.collection(UPLOADS).where(filter=FieldFilter("user_id", "==", uid))
        while snaps := [s async for s in uploads.limit(PAGE).stream()]:
            for snap in snaps:
                await self._store.delete_prefix(str((snap.to_dict() or {})["folder"]))
                await snap.reference.delete()
        return removed

    async def _remove_stores(self, uid: str) -> int:
        """The account's own vector stores: their chunks, their files' entries, then the store."""
        removed = 0
        query = self._db.collection(STORES).where(filter=FieldFilter("owner", "==", f"user_{uid}"))
        while snaps := [s async for s in query.limit(PAGE).stream()]:
            for snap in snaps:
                await self._knowledge.delete_chunks("store_id", snap.id)
                await self._knowledge.drop_keyword_indexes(snap.id)
                await self._db.recursive_delete(snap.reference)
                removed += 1
        return removed

    async def _tombstone(self, uid: str, done: Deleted) -> None:
        user_ref = self._db.collection(USERS).document(uid)
        user: dict[str, Any] = (await user_ref.get()).to_dict() or {}
        batch = self._db.batch()
        if user.get("email"):
            batch.delete(self._db.collection(USER_EMAILS).document(str(user["email"])))
        if user.get("google_sub"):
            batch.delete(self._db.collection(IDENTITIES).document(f"google:{user['google_sub']}"))
        batch.set(
            user_ref,
            {
                "email": tombstone_email(uid),
                "password_hash": None,
                "google_sub": None,
                "plan": user.get("plan"),
                "created_at": user.get("created_at"),
                "welcome_granted": bool(user.get("welcome_granted")),  # no second welcome, ever
                "state": "deleted",
                "deleted_at": clock.now(),
            },
        )
        item = audit.entry(
            "account.delete", uid, key=uid, account=uid, target=uid, details=dict(done.__dict__)
        )
        batch.set(self._audit.ref(item.id), item.to_doc())
        await batch.commit()
        audit.emit(item)
