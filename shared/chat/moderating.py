"""The moderation check of a call (policy `checks.moderation`) through the platform's Moderator.

- pre_call: the endpoint answers before anything is reserved; a flag with `block` is 400 guardrail_blocked.
- during_call: it runs beside the provider call (`Beside`). If it flags before the answer has begun, the
  provider call is cancelled and nothing is charged; if it flags later, the answer is cut there (a stream
  ends with guardrail_blocked) and what the provider produced is charged, like any cut call.
- An endpoint that can't answer (or none configured) lets the call through with a `moderation/unavailable`
  hit, or blocks it when the policy says `fail_closed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from shared.guardrails.errors import GuardrailBlocked
from shared.guardrails.moderation import ModerationUnavailable, Moderator
from shared.guardrails.policy import ModerationCheck
from shared.guardrails.verdict import Hit

log = logging.getLogger("chat.guardrails")

T = TypeVar("T")
VERDICT_WAIT_S = 10.0  # how long a finished answer waits for a during_call verdict before it is shown


def texts_of(messages: list[dict[str, Any]]) -> list[str]:
    """The text the caller sent: every message's string content and text parts (images are not sent)."""
    out: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(
                str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
    return [t for t in out if t]


async def moderate(
    moderator: Moderator | None, check: ModerationCheck, texts: list[str], stage: str
) -> list[Hit]:
    """The hits of one moderation, or GuardrailBlocked raised."""
    try:
        if moderator is None:
            raise ModerationUnavailable("no moderation endpoint is configured (MODERATION_MODEL)")
        result = await moderator.moderate(texts)
    except ModerationUnavailable as exc:
        log.warning("moderation unavailable", extra={"reason": str(exc), "fail_closed": check.fail_closed})
        if check.fail_closed:
            raise GuardrailBlocked("moderation", ["unavailable"], stage) from None
        return [Hit("moderation", "unavailable", 1, "log_only")]
    if not result.flagged:
        return []
    kinds = list(result.categories) or ["flagged"]
    if check.action == "block":
        raise GuardrailBlocked("moderation", kinds, stage)
    return [Hit("moderation", kind, 1, check.action) for kind in kinds]


class Beside:
    """during_call: the moderation task running beside the provider call."""

    def __init__(self, work: Awaitable[list[Hit]]) -> None:
        self._task: asyncio.Task[list[Hit]] = asyncio.ensure_future(work)

    def blocked_now(self) -> GuardrailBlocked | None:
        """The block, if the verdict is in and it is one (never waits)."""
        if not self._task.done() or self._task.cancelled():
            return None
        error = self._task.exception()
        return error if isinstance(error, GuardrailBlocked) else None

    async def race(self, call: Awaitable[T]) -> T:
        """`call` (the provider's answer, or a stream's first delta), cancelled if moderation blocks first."""
        work = asyncio.ensure_future(call)
        try:
            await asyncio.wait({work, self._task}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            work.cancel()
            raise
        blocked = self.blocked_now()
        if blocked is not None and not work.done():
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            raise blocked
        return await work

    async def verdict(self) -> tuple[list[Hit], GuardrailBlocked | None]:
        """Wait for the verdict (bounded): its hits, and the block if it is one."""
        try:
            hits = await asyncio.wait_for(asyncio.shield(self._task), VERDICT_WAIT_S)
        except GuardrailBlocked as blocked:
            return [], blocked
        except TimeoutError:
            log.warning("moderation verdict late: the answer is shown without it")
            return [Hit("moderation", "late", 1, "log_only")], None
        return hits, None

    def cancel(self) -> None:
        self._task.cancel()
