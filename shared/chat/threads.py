"""Threads: a user's conversations. Messages are stored in order once the reply is done.

threads/{thread_id}                  user_id, title, created_at, updated_at, message_count
threads/{thread_id}/messages/{id}    seq, role, content (text, or a user's text and image parts),
                                     created_at, (assistant) model, usage, credits, tool_calls; (role
                                     "tool") tool_call_id
A thread is visible only to its owner; anyone else gets 404, never 403, so ids leak nothing.

Tool calling: a reply that calls tools is stored with its `tool_calls`; the client posts the results
(`tool_results`, stored as role "tool" messages) with the next message, and the history replays calls
and results to the model in OpenAI's shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.cloud import firestore
from pydantic import BaseModel

from shared.auth.schemas import Principal
from shared.chat.schemas import CallResult
from shared.clock import now
from shared.errors import NotFound
from shared.ids import new_id

HISTORY_LIMIT = 50


class Thread(BaseModel):
    id: str
    title: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    message_count: int


class Message(BaseModel):
    id: str
    seq: int
    role: str
    content: str | list[dict[str, Any]]  # text, or text and image_url parts (shared/chat/thread_content.py)
    created_at: dt.datetime
    model: str | None = None
    credits: int | None = None
    status: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


def expiry(at: dt.datetime, retention_days: int) -> dt.datetime | None:
    """When a thread last written at `at` is deleted (None: kept until its owner deletes it)."""
    return at + dt.timedelta(days=retention_days) if retention_days > 0 else None


class ThreadNotFound(NotFound):
    code = "thread_not_found"


class ThreadService:
    """The threads' documents: the only code that reads or writes `threads/`."""

    def __init__(self, db: firestore.AsyncClient) -> None:
        self.db = db

    def _ref(self, thread_id: str) -> firestore.AsyncDocumentReference:
        if not thread_id or "/" in thread_id or len(thread_id) > 128:
            raise ThreadNotFound("No such thread.")
        return self.db.collection("threads").document(thread_id)

    async def create(self, principal: Principal, title: str | None, retention_days: int = 0) -> Thread:
        at = now()
        thread = Thread(id=new_id(), title=title, created_at=at, updated_at=at, message_count=0)
        doc = {**thread.model_dump(exclude={"id"}), "user_id": principal.user_id}
        await self._ref(thread.id).create(doc | {"expire_at": expiry(at, retention_days)})
        return thread

    async def delete_expired(self, limit: int) -> int:
        """Delete (with their messages) up to `limit` threads whose retention ran out: the reconciler's
        sweep. A thread written to since it was read is kept (its `expire_at` moved on)."""
        at = now()
        query = self.db.collection("threads").where(filter=firestore.FieldFilter("expire_at", "<=", at))
        deleted = 0
        async for snap in query.limit(limit).stream():
            fresh = await snap.reference.get()
            expire_at = (fresh.to_dict() or {}).get("expire_at")
            if expire_at is None or expire_at > at:
                continue
            await self.db.recursive_delete(snap.reference)
            deleted += 1
        return deleted

    async def count_for_user(self, user_id: str) -> int:
        """How many threads the user has (an aggregation query: no documents are read)."""
        query = self.db.collection("threads").where(filter=firestore.FieldFilter("user_id", "==", user_id))
        result = await query.count().get()
        return int(result[0][0].value)

    async def get(self, principal: Principal, thread_id: str) -> Thread:
        return await self.owned(principal.user_id, thread_id)

    async def owned(self, user_id: str, thread_id: str) -> Thread:
        """The thread, if `user_id` owns it; ThreadNotFound otherwise (someone else's is not found)."""
        snap = await self._ref(thread_id).get()
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("user_id") != user_id:
            raise ThreadNotFound("No such thread.")
        return Thread(
            id=snap.id, **{k: data[k] for k in ("title", "created_at", "updated_at", "message_count")}
        )

    async def list_threads(self, principal: Principal, limit: int) -> list[Thread]:
        query = (
            self.db.collection("threads")
            .where(filter=firestore.FieldFilter("user_id", "==", principal.user_id))
            .order_by("updated_at", direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        out = []
        async for snap in query.stream():
            data = snap.to_dict() or {}
            out.append(
                Thread(
                    id=snap.id, **{k: data[k] for k in ("title", "created_at", "updated_at", "message_count")}
                )
            )
        return out

    async def messages(
        self, principal: Principal, thread_id: str, limit: int, after: int | None
    ) -> list[Message]:
        await self.get(principal, thread_id)
        query = self._ref(thread_id).collection("messages").order_by("seq")
        if after is not None:
            query = query.where(filter=firestore.FieldFilter("seq", ">", after))
        return [Message(id=s.id, **(s.to_dict() or {})) async for s in query.limit(limit).stream()]

    async def transcript(self, user_id: str, thread_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` of the owner's thread's messages, first to last, as stored (for an export)."""
        await self.owned(user_id, thread_id)
        query = self._ref(thread_id).collection("messages").order_by("seq").limit(limit)
        return [snap.to_dict() or {} async for snap in query.stream()]

    async def history(self, thread_id: str) -> list[dict[str, Any]]:
        """The last messages, oldest first, as model input."""
        query = (
            self._ref(thread_id)
            .collection("messages")
            .order_by("seq", direction=firestore.Query.DESCENDING)
            .limit(HISTORY_LIMIT)
        )
        rows = [s.to_dict() or {} async for s in query.stream()]
        rows.reverse()
        while rows and rows[0]["role"] == "tool":  # the limit cut between a call and its results
            rows.pop(0)
        return [_as_input(r) for r in rows]

    async def append_exchange(
        self, thread_id: str, inputs: list[dict[str, Any]], result: CallResult, retention_days: int = 0
    ) -> dict[str, Any]:
        """Store what was posted (tool results, then the user's message) and the reply, in order, in
        one transaction; the thread's retention counts again from now."""
        ref = self._ref(thread_id)
        at = now()
        ids = [new_id() for _ in inputs]
        reply_id = new_id()
        reply: dict[str, Any] = {
            "role": "assistant",
            "content": result.content,
            "created_at": at,
            "model": result.model,
            "credits": result.credits,
            "status": result.outcome,
        }
        if result.tool_calls and result.outcome == "ok":  # a cut stream's calls are not whole: not stored
            reply["tool_calls"] = [call.model_dump() for call in result.tool_calls]

        @firestore.async_transactional
        async def write(tx: firestore.AsyncTransaction) -> int:
            snap = await ref.get(transaction=tx)
            count = int((snap.to_dict() or {}).get("message_count", 0))
            messages = ref.collection("messages")
            for n, (message_id, message) in enumerate(zip(ids, inputs, strict=True), start=1):
                tx.set(messages.document(message_id), {"seq": count + n, **message, "created_at": at})
            tx.set(messages.document(reply_id), {"seq": count + len(inputs) + 1, **reply})
            tx.update(
                ref,
                {
                    "message_count": count + len(inputs) + 1,
                    "updated_at": at,
                    "expire_at": expiry(at, retention_days),
                },
            )
            return count

        await write(self.db.transaction(max_attempts=20))
        out: dict[str, Any] = {"thread_id": thread_id}
        tool_ids = [i for i, m in zip(ids, inputs, strict=True) if m["role"] == "tool"]
        user_ids = [i for i, m in zip(ids, inputs, strict=True) if m["role"] == "user"]
        if user_ids:
            out["user_message_id"] = user_ids[0]
        if tool_ids:
            out["tool_message_ids"] = tool_ids
        out["assistant_message_id"] = reply_id
        return out


def _as_input(row: dict[str, Any]) -> dict[str, Any]:
    """A stored message as model input: tool calls and the call a result answers included."""
    message: dict[str, Any] = {"role": row["role"], "content": row["content"]}
    if row.get("tool_calls"):
        message["tool_calls"] = row["tool_calls"]
        message["content"] = row["content"] or None
    if row.get("tool_call_id"):
        message["tool_call_id"] = row["tool_call_id"]
    return message
