"""The audit trail: every security- or money-relevant action, written once to the append-only `audit`
collection and echoed to the `audit` logger (Cloud Logging: `jsonPayload.audit`, filterable with
`logName` and `jsonPayload.logger="audit"`).

An entry's id derives from what makes the action unique (a request id, a payment, a dispute), so an action
delivered twice writes one entry: inside the action's own transaction where it has one (`add`, a
transactional create: the entry exists exactly when the action committed), otherwise right after it
(`write`, a create that ignores an entry already there). Nothing in the API updates or deletes an entry.

Entries name ids, never content: no prompt, no email address, no secret. `account` is the user an entry
concerns (a user reads their own account's entries), `workspace_id` the workspace (its admins read those).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared import clock, ids
from shared.errors import BadRequest
from shared.ledger.wallet_ids import workspace_of
from shared.logs import client_ip_var, request_id_var

AUDIT = "audit"
MAX_PAGE = 100
log = logging.getLogger("audit")
_ACTION = re.compile(r"^[a-z_]+(\.[a-z_]+){1,2}$")

Detail = str | int | bool | None


@dataclass(frozen=True)
class AuditEntry:
    id: str
    action: str  # "<area>.<verb>", e.g. "api_key.create", "payment.granted"
    actor: str  # a user id, or "system:<what>" (a payment provider, the sweep)
    at: dt.datetime
    account: str | None = None
    workspace_id: str | None = None
    target: str | None = None
    ip: str | None = None
    request_id: str | None = None
    details: dict[str, Detail] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "actor": self.actor,
            "at": self.at,
            "account": self.account,
            "workspace_id": self.workspace_id,
            "target": self.target,
            "ip": self.ip,
            "request_id": self.request_id,
            "details": dict(self.details),
        }

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> AuditEntry:
        return AuditEntry(
            id=doc["id"],
            action=doc["action"],
            actor=doc["actor"],
            at=doc["at"],
            account=doc.get("account"),
            workspace_id=doc.get("workspace_id"),
            target=doc.get("target"),
            ip=doc.get("ip"),
            request_id=doc.get("request_id"),
            details=dict(doc.get("details") or {}),
        )


def entry(
    action: str,
    actor: str,
    *,
    key: str | None = None,
    account: str | None = None,
    workspace_id: str | None = None,
    wallet_id: str | None = None,
    target: str | None = None,
    details: dict[str, Detail] | None = None,
) -> AuditEntry:
    """An entry for the current request (its id and the caller's address come from the log context).

    `key` makes the entry unique (the same key, the same entry: for actions delivered more than once, such
    as a webhook); without one the entry is new (a request's action runs once; its id comes from the
    client's X-Request-ID, which is no key). `wallet_id` names the account or workspace a money action
    concerns."""
    if not _ACTION.match(action):
        raise ValueError(f"audit action {action!r} is not '<area>.<verb>'")
    request_id = request_id_var.get()
    if wallet_id is not None:
        workspace_id = workspace_id or workspace_of(wallet_id)
        account = account or (None if workspace_of(wallet_id) else wallet_id)
    unique = key or ids.new_id()
    return AuditEntry(
        id=ids.stable_id(AUDIT, action, unique),
        action=action,
        actor=actor,
        at=clock.now(),
        account=account,
        workspace_id=workspace_id,
        target=target,
        ip=client_ip_var.get(),
        request_id=request_id,
        details=details or {},
    )


@dataclass(frozen=True)
class AuditPage:
    data: list[AuditEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class AuditQuery:
    """What a reader asks for: newest first, optionally one action (or area) and one actor, a time range."""

    limit: int = 50
    cursor: str | None = None
    action: str | None = None
    actor: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class AuditTrail:
    def __init__(self, db: firestore.AsyncClient) -> None:
        self._db = db

    def ref(self, entry_id: str) -> Any:
        return self._db.collection(AUDIT).document(entry_id)

    def add(self, tx: Any, item: AuditEntry) -> None:
        """Inside the action's transaction: the entry commits with it (emit it after the commit)."""
        tx.create(self.ref(item.id), item.to_doc())

    async def write(self, item: AuditEntry) -> None:
        """After an action that has no transaction of its own; a second delivery changes nothing."""
        try:
            await self.ref(item.id).create(item.to_doc())
        except AlreadyExists:
            return
        emit(item)

    async def page(
        self, query: AuditQuery, *, workspace_id: str | None = None, account: str | None = None
    ) -> AuditPage:
        """One page of a workspace's or an account's entries, newest first."""
        check_query(query)
        q: Any = self._db.collection(AUDIT)
        if workspace_id is not None:
            q = q.where(filter=FieldFilter("workspace_id", "==", workspace_id))
        if account is not None:
            q = q.where(filter=FieldFilter("account", "==", account))
        if query.action is not None:
            q = q.where(filter=FieldFilter("action", "==", query.action))
        if query.actor is not None:
            q = q.where(filter=FieldFilter("actor", "==", query.actor))
        if query.since is not None:
            q = q.where(filter=FieldFilter("at", ">=", query.since))
        if query.until is not None:
            q = q.where(filter=FieldFilter("at", "<", query.until))
        q = q.order_by("at", direction=firestore.Query.DESCENDING).order_by(
            "id", direction=firestore.Query.DESCENDING
        )
        if query.cursor is not None:
            at, last_id = decode_cursor(query.cursor)
            q = q.start_after({"at": at, "id": last_id})
        docs = [snap.to_dict() async for snap in q.limit(query.limit + 1).stream()]
        data = [AuditEntry.from_doc(doc) for doc in docs[: query.limit]]
        more = len(docs) > query.limit
        return AuditPage(data=data, next_cursor=encode_cursor(data[-1]) if more and data else None)


def emit(item: AuditEntry) -> None:
    """The entry as a log line of the `audit` logger (the ip stays in Firestore, out of the logs)."""
    doc = item.to_doc()
    doc.pop("ip")
    doc["at"] = item.at.isoformat()
    log.info(item.action, extra={"audit": doc})


def check_query(query: AuditQuery) -> None:
    if not 1 <= query.limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}.", code="invalid_limit")
    if query.action is not None and not _ACTION.match(query.action):
        raise BadRequest("action is an audit action such as `api_key.create`.", code="invalid_action")
    if query.since and query.until and query.since >= query.until:
        raise BadRequest("since must be before until.", code="invalid_range")


def encode_cursor(item: AuditEntry) -> str:
    raw = json.dumps([item.at.isoformat(), item.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        at, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(at), str(last_id)
    except (ValueError, TypeError) as exc:
        raise BadRequest(
            "cursor is not one this API returned; pass next_cursor as is.", code="invalid_cursor"
        ) from exc
