"""The account export (`POST /v1/me/export`, a job of type `account_export`): everything the account
holds, as JSON files in one zip, stored at `users/{id}/jobs/{job_id}/account-export.zip` and handed out
through a signed URL like every job result. Free: it reserves nothing and charges nothing.

The zip holds `account.json` (the profile, without the password hash), `threads.json` (every thread with
its messages), `jobs.json` (every job: input, state, cost, the paths of its results), `usage.json`,
`ledger.json` (the wallet's entries), `api_keys.json` (names and last four characters; never a key),
`workspaces.json` (memberships), `files.json` (the metadata of the files the account uploaded),
`audit.json` (the account's audit trail) and a README.txt saying so.
One step: the step may run twice (a redelivered task), and the object is written create-if-absent.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import anyio
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters.storage import BlobStore
from shared.audit.trail import AUDIT
from shared.auth.api_keys import API_KEYS
from shared.auth.repository import USERS
from shared.files.service import FILES
from shared.jobs.kinds import Plan, StepResult
from shared.jobs.repository import JOBS
from shared.jobs.schemas import Job, JobCreate, JobResult
from shared.ledger.records import ENTRIES, WALLETS
from shared.templates.service import TEMPLATES
from shared.workspaces.repository import WorkspaceRepository

KIND = "account_export"
CONTENT_TYPE = "application/zip"
PROFILE_FIELDS = ("email", "created_at", "plan", "email_verified", "email_verified_at", "google_sub")
README = """This archive holds everything your account keeps, as JSON:
account.json     your profile
threads.json     your threads and their messages
jobs.json        your jobs: what you asked, their state, cost and the paths of their results
usage.json       one record per metered call: model, tokens, credits (never the content)
ledger.json      every credit movement of your wallet
api_keys.json    your API keys' names and last characters (a key itself is never stored)
workspaces.json  the workspaces you belong to and your role
files.json       the files you uploaded (yours and your workspaces'): name, purpose, type, size, when
templates.json   your own prompt templates (their latest versions)
audit.json       sign-ins, keys, payments and other security and money events of your account
"""


def export_path(job: Job) -> str:
    return f"users/{job.user_id}/jobs/{job.id}/account-export.zip"


class AccountExportJob:
    def __init__(self, db: firestore.AsyncClient, store: BlobStore, deadline_s: int) -> None:
        self._db = db
        self._store = store
        self._deadline_s = deadline_s

    def plan(self, request: JobCreate) -> Plan:
        return Plan(params={}, steps=1, price=0, deadline_s=self._deadline_s)

    async def run_step(self, job: Job, step: int) -> StepResult:
        files = await self._collect(job.user_id)
        data = await anyio.to_thread.run_sync(_zip, files)
        path = export_path(job)
        await self._store.put_if_absent(path, data, CONTENT_TYPE)
        result = JobResult(index=0, kind="archive", path=path, content_type=CONTENT_TYPE, bytes=len(data))
        return StepResult(cost=0, results=[result])

    async def _collect(self, uid: str) -> dict[str, Any]:
        user = (await self._db.collection(USERS).document(uid).get()).to_dict() or {}
        threads = []
        for thread in await self._where("threads", "user_id", uid):
            messages = thread.pop("_ref").collection("messages").order_by("seq")
            thread["messages"] = [m.to_dict() async for m in messages.stream()]
            threads.append(thread)
        entries = self._db.collection(WALLETS).document(uid).collection(ENTRIES).order_by("seq")
        # An API key's document is named by the key's hash: only its fields go out (`id` is the public id).
        keys = [
            {k: v for k, v in key.items() if k != "_ref"}
            for key in await self._where(API_KEYS, "user_id", uid, False)
        ]
        memberships = [
            {k: m.get(k) for k in ("workspace_id", "role", "monthly_limit", "joined_at")}
            for m in await WorkspaceRepository(self._db).memberships(uid)
        ]
        return {
            "account.json": {"id": uid} | {k: user.get(k) for k in PROFILE_FIELDS},
            "threads.json": threads,
            "jobs.json": await self._where(JOBS, "user_id", uid),
            "usage.json": await self._where("usage", "user_id", uid),
            "ledger.json": [e.to_dict() async for e in entries.stream()],
            "api_keys.json": keys,
            "workspaces.json": memberships,
            "files.json": await self._where(FILES, "user_id", uid),
            "templates.json": await self._where(TEMPLATES, "user_id", uid),
            "audit.json": await self._where(AUDIT, "account", uid),
        }

    async def _where(
        self, collection: str, field: str, value: str, named: bool = True
    ) -> list[dict[str, Any]]:
        """The documents whose `field` is `value`, with their id (when `named`) and their reference."""
        query = self._db.collection(collection).where(filter=FieldFilter(field, "==", value))
        out = []
        async for snap in query.stream():
            doc = ({"id": snap.id} if named else {}) | (snap.to_dict() or {})
            out.append(doc | {"_ref": snap.reference})
        return out


def _zip(files: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        for name, content in files.items():
            archive.writestr(name, json.dumps(_plain(content), indent=2, ensure_ascii=False, default=str))
    return out.getvalue()


def _plain(value: Any) -> Any:
    """JSON-ready: document references dropped, secrets' hashes never included."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in ("_ref", "key_hash", "password_hash")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
