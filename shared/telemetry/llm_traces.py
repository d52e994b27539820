"""LLM traces to Langfuse, off unless LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY are set.

Every usage record (a chat call through any door, an embedding, speech, a job) becomes one Langfuse trace
with one generation: model, provider, tokens, cost (credits, and USD at 1,000,000 credits a dollar),
latency, time to first token, outcome, the door. The user and the workspace are named by a keyed hash
(HMAC-SHA256 with the secret key: stable for Langfuse's per-user views, useless to anyone without the
key). No prompt or answer is sent (usage records hold none), unless the call's guardrail policy says
`trace_content = true` (a workspace's choice, `PUT /v1/workspaces/{id}/guardrails`): then the generation
carries the prompt as the provider saw it (masked values stay masked) and the answer as the client saw it.

Events go to Langfuse's ingestion API (`POST /api/public/ingestion`, basic auth) in batches, from a task
in the process's event loop: at most `BATCH` events or `FLUSH_S` seconds apart. A full queue drops the
oldest (and counts it); a failed post is logged and its batch dropped (traces are not the books).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import logging
import uuid
from collections import deque
from typing import Any

import httpx

from shared.ledger.wallet_ids import workspace_of
from shared.settings import Settings

log = logging.getLogger("telemetry")

BATCH = 50
FLUSH_S = 1.0
MAX_QUEUED = 2_000
CREDITS_PER_USD = 1_000_000


class LangfuseSink:
    def __init__(self, host: str, public_key: str, secret_key: str) -> None:
        self._url = host.rstrip("/") + "/api/public/ingestion"
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._key = secret_key.encode()
        self._queue: deque[dict[str, Any]] = deque(maxlen=MAX_QUEUED)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def pseudonym(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:24]

    def record(self, record_id: str, fields: dict[str, Any], traced: dict[str, Any] | None = None) -> None:
        """Queue the trace of one usage record (never blocks, never raises into the caller)."""
        if len(self._queue) + 2 > MAX_QUEUED:
            self.dropped += 2
        self._queue.extend(self.events(record_id, fields, traced))
        if self._task is None or self._task.done():
            try:
                self._task = asyncio.get_running_loop().create_task(self._flush_soon())
            except RuntimeError:
                return  # no loop here: the next call from one sends these too

    def events(
        self, record_id: str, fields: dict[str, Any], traced: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        at = dt.datetime.now(dt.UTC)
        trace_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"usage:{record_id}"))  # a redelivery: the same trace
        user = self.pseudonym(str(fields.get("user_id") or "")) if fields.get("user_id") else None
        workspace = workspace_of(str(fields.get("wallet_id") or ""))
        credits = int(fields.get("credits") or 0)
        door = str(fields.get("api") or fields.get("feature") or "chat")
        latency = float(fields.get("latency_ms") or 0) / 1000
        metadata = {
            "credits": credits,
            "provider": fields.get("provider"),
            "outcome": fields.get("outcome"),
            "attempts": fields.get("attempts"),
            "workspace": self.pseudonym(workspace) if workspace else None,
        }
        trace = {
            "id": trace_id,
            "timestamp": at.isoformat(),
            "name": door,
            "userId": user,
            "metadata": metadata,
            "tags": [door],
        }
        generation: dict[str, Any] = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"generation:{record_id}")),
            "traceId": trace_id,
            "name": door,
            "startTime": (at - dt.timedelta(seconds=latency)).isoformat(),
            "endTime": at.isoformat(),
            "model": fields.get("model"),
            "usageDetails": {
                "input": int(fields.get("input_tokens") or 0),
                "output": int(fields.get("output_tokens") or 0),
            },
            "costDetails": {"total": credits / CREDITS_PER_USD},
            "level": "DEFAULT" if fields.get("outcome") in ("ok", None) else "WARNING",
            "metadata": metadata,
        }
        if traced is not None:
            generation["input"], generation["output"] = traced.get("input"), traced.get("output")
        if fields.get("ttft_ms") is not None:
            generation["completionStartTime"] = (
                at - dt.timedelta(seconds=latency) + dt.timedelta(milliseconds=float(fields["ttft_ms"]))
            ).isoformat()
        return [
            {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": at.isoformat(), "body": trace},
            {
                "id": str(uuid.uuid4()),
                "type": "generation-create",
                "timestamp": at.isoformat(),
                "body": generation,
            },
        ]

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_S)
        await self.flush()

    async def flush(self) -> None:
        """Send everything queued now, in batches."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                try:
                    answer = await client.post(self._url, json={"batch": batch}, headers=self._headers)
                    failed = answer.status_code >= 400
                except httpx.HTTPError:
                    failed = True
                if failed:
                    log.warning("llm traces not sent", extra={"events": len(batch), "to": "langfuse"})
                    return


def build_sink(settings: Settings) -> LangfuseSink | None:
    public, secret = settings.langfuse_public_key, settings.langfuse_secret_key
    if not public or secret is None:
        return None
    return LangfuseSink(settings.langfuse_host, public, secret.get_secret_value())
