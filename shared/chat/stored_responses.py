"""Stored Responses (`store: true` on POST /v1/responses): the caller's own, kept for a retention period.

responses/{resp_id}        user_id, workspace_id ("" when personal), response (the Response object, JSON),
                           chain (the ids of the responses it continues, oldest first), created_at, expire_at
response_inputs/{resp_id}  input (the request's input items, JSON), expire_at

A response is visible only to the user who created it, in the scope it was created in (their own, or the
workspace named by X-Workspace-ID); anyone else gets 404, as with threads. `expire_at` is the deletion
time Firestore's TTL policy acts on (`responses_retention_days`, OpenAI's 30 days by default); a response
past it is not found even before the policy deletes it. The input sits in its own document so a response
holds up to Firestore's document size twice over. Continuing a response (`previous_response_id`) reads its
chain in one batch: every stored ancestor's input and output items, oldest first; an ancestor deleted or
expired meanwhile leaves its turn out.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from google.cloud import firestore

from shared.auth.schemas import Principal
from shared.clock import now
from shared.errors import BadRequest, NotFound

# Firestore keeps at most 1 MiB per document: the stored input must leave room for the fields around it.
MAX_STORED_INPUT_BYTES = 1_000_000
MAX_CHAIN = 200  # responses one conversation may continue through


class ResponseNotFound(NotFound):
    code = "response_not_found"


class StoredResponses:
    """The only code that reads or writes `responses/` and `response_inputs/`."""

    def __init__(self, db: firestore.AsyncClient, retention_days: int) -> None:
        self.db = db
        self.retention = dt.timedelta(days=retention_days)

    def _refs(
        self, resp_id: str
    ) -> tuple[firestore.AsyncDocumentReference, firestore.AsyncDocumentReference]:
        return self.db.collection("responses").document(resp_id), self.db.collection(
            "response_inputs"
        ).document(resp_id)

    @staticmethod
    def check_storable(items: list[dict[str, Any]]) -> str:
        """The input as stored, or a 400 before anything is reserved when it cannot be stored."""
        encoded = json.dumps(items, separators=(",", ":"))
        if len(encoded.encode()) > MAX_STORED_INPUT_BYTES:
            raise BadRequest(
                f"A stored response's input holds at most {MAX_STORED_INPUT_BYTES} bytes; send images by "
                "URL, or `store: false`.",
                code="input_too_large_to_store",
            )
        return encoded

    async def save(
        self, principal: Principal, resp_id: str, encoded_input: str, body: dict[str, Any], chain: list[str]
    ) -> None:
        at = now()
        expire_at = at + self.retention
        meta, inputs = self._refs(resp_id)
        batch = self.db.batch()
        batch.set(inputs, {"input": encoded_input, "expire_at": expire_at})
        batch.set(
            meta,
            {
                "user_id": principal.user_id,
                "workspace_id": principal.workspace_id or "",
                "response": json.dumps(body, separators=(",", ":")),
                "chain": chain,
                "created_at": at,
                "expire_at": expire_at,
            },
        )
        await batch.commit()

    async def _owned(self, principal: Principal, resp_id: str) -> dict[str, Any] | None:
        if not resp_id or "/" in resp_id or len(resp_id) > 128:
            return None
        snap = await self._refs(resp_id)[0].get()
        data: dict[str, Any] | None = snap.to_dict() if snap.exists else None
        if not data or not _visible(data, principal):
            return None
        return data

    async def get(self, principal: Principal, resp_id: str) -> dict[str, Any]:
        data = await self._owned(principal, resp_id)
        if data is None:
            raise ResponseNotFound(f"Response with id '{resp_id}' not found.")
        body: dict[str, Any] = json.loads(data["response"])
        return body

    async def input_items(self, principal: Principal, resp_id: str) -> list[dict[str, Any]]:
        if await self._owned(principal, resp_id) is None:
            raise ResponseNotFound(f"Response with id '{resp_id}' not found.")
        snap = await self._refs(resp_id)[1].get()
        items: list[dict[str, Any]] = json.loads((snap.to_dict() or {}).get("input") or "[]")
        return items

    async def delete(self, principal: Principal, resp_id: str) -> None:
        if await self._owned(principal, resp_id) is None:
            raise ResponseNotFound(f"Response with id '{resp_id}' not found.")
        batch = self.db.batch()
        for ref in self._refs(resp_id):
            batch.delete(ref)
        await batch.commit()

    async def history(self, principal: Principal, previous_id: str) -> tuple[list[dict[str, Any]], list[str]]:
        """The items `previous_id` continues (its chain's and its own inputs and outputs, oldest first) and
        the chain a response continuing it has. Someone else's, unknown or expired: 400
        `previous_response_not_found`, as OpenAI answers."""
        data = await self._owned(principal, previous_id)
        if data is None:
            raise BadRequest(
                f"Previous response with id '{previous_id}' not found.", code="previous_response_not_found"
            )
        chain = [*data.get("chain", []), previous_id]
        if len(chain) > MAX_CHAIN:
            raise BadRequest(
                f"A conversation continues through at most {MAX_CHAIN} responses; start a new one with "
                "its input and output.",
                code="conversation_too_long",
            )
        refs = [ref for resp_id in chain for ref in self._refs(resp_id)]
        snaps = {(s.reference.parent.id, s.id): s async for s in self.db.get_all(refs)}
        items: list[dict[str, Any]] = []
        for resp_id in chain:
            meta, inputs = snaps.get(("responses", resp_id)), snaps.get(("response_inputs", resp_id))
            if meta is None or inputs is None or not meta.exists or not inputs.exists:
                continue  # deleted meanwhile
            stored = meta.to_dict() or {}
            if not _visible(stored, principal):
                continue
            items += json.loads((inputs.to_dict() or {}).get("input") or "[]")
            items += json.loads(stored["response"]).get("output", [])
        return items, chain


def _visible(data: dict[str, Any], principal: Principal) -> bool:
    """The creator, in the scope it was created in, before it expires."""
    expire_at = data.get("expire_at")
    return (
        data.get("user_id") == principal.user_id
        and data.get("workspace_id", "") == (principal.workspace_id or "")
        and (expire_at is None or expire_at > now())
    )
