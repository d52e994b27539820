"""The guardrails in the chat path (shared/guardrails/ is the engine): one `CallGuard` per call.

- pre_call (`Guardrails.pre_call`, first thing `ChatService.begin` does, before idempotency, the cache
  and admission): the messages are screened with the caller's policy (their plan's, or their workspace's
  plan's with the workspace's override). A `block` raises 400 `guardrail_blocked` naming the check, with
  nothing reserved; `mask` rewrites the messages, and everything after (token counts, the cache key, the
  provider) sees only the masked ones.
- post_call: a whole answer is screened once (`output`); a stream through a `StreamWindow`, which holds
  back the last few hundred characters so a finding split across deltas is caught, and restores this
  call's placeholders where the policy says so. A block after output began cuts the call; the produced
  tokens are charged (the cut-stream path).
- The response cache keeps the answer as the provider side saw it (masked, placeholders not restored:
  `for_cache`), and a hit is restored with the new call's own placeholders, so no caller's values are in a
  cache key or a cached answer.
- Tool calls' arguments pass post_call too, whole: a stream screened on output holds its tool-call
  fragments back and sends each call in one piece once its arguments passed (`tool_calls`).
- Hits (check, kind, action, count; never text) go into the call's usage record and log line.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import anyio

from shared.auth.schemas import Principal
from shared.chat.moderating import Beside, moderate, texts_of
from shared.gateway.types import ToolCall
from shared.guardrails.errors import GuardrailBlocked
from shared.guardrails.moderation import Moderator
from shared.guardrails.pipeline import screen_input, screen_output
from shared.guardrails.policy import ModerationCheck, Policy
from shared.guardrails.stream import StreamWindow
from shared.guardrails.verdict import Hit, OutputVerdict, Verdict
from shared.telemetry import metrics

log = logging.getLogger("chat.guardrails")

# Screening costs ~0.3 ms per 1,000 characters: a bigger prompt is screened in a worker thread.
OFF_LOOP_CHARS = 16_000


class PolicySource(Protocol):
    """The policy of a plan, with a workspace's override (shared/workspaces/guardrails.py)."""

    async def policy(self, plan: str | None, workspace_id: str | None) -> Policy: ...


def hit_counts(hits: Iterable[Hit]) -> list[dict[str, Any]]:
    """Hits summed per (check, kind, action), for usage records and logs: names and counts only."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for hit in hits:
        counts[(hit.check, hit.kind, hit.action)] += hit.count
    return [
        {"check": check, "kind": kind, "action": action, "count": n}
        for (check, kind, action), n in sorted(counts.items())
    ]


class CallGuard:
    """One call's policy, masked messages, placeholders and hits."""

    def __init__(self, policy: Policy, verdict: Verdict) -> None:
        self.policy = policy
        self.state = verdict.state
        self.messages: list[dict[str, Any]] = verdict.messages
        self.hits: list[Hit] = list(verdict.hits)
        self.beside: Beside | None = None  # the during_call moderation (shared/chat/moderating.py)

    def cut(self) -> GuardrailBlocked | None:
        """The during_call block if it has come (never waits)."""
        blocked = self.beside.blocked_now() if self.beside is not None else None
        return self._blocked_by_moderation(blocked)

    async def moderated(self) -> GuardrailBlocked | None:
        """Wait for the during_call verdict (when there is one); its hits join the call's."""
        if self.beside is None:
            return None
        hits, blocked = await self.beside.verdict()
        self.hits.extend(hits)
        return self._blocked_by_moderation(blocked)

    def _blocked_by_moderation(self, blocked: GuardrailBlocked | None) -> GuardrailBlocked | None:
        if blocked is not None and not any(
            h.check == "moderation" and h.action == "block" for h in self.hits
        ):
            self.hits.extend(Hit("moderation", kind, 1, "block") for kind in blocked.kinds)
            metrics.GUARDRAIL_FINDINGS.add(
                1, {"check": "moderation", "action": "block", "stage": "during_call"}
            )
        return blocked

    def __repr__(self) -> str:
        return f"CallGuard(hits={len(self.hits)})"

    @property
    def screens_output(self) -> bool:
        """Whether the answer must pass post_call: a check runs on output, or placeholders to restore."""
        checks = self.policy.checks
        if any(getattr(checks, name).runs("post_call") for name in ("banned", "secrets", "pii")):
            return True
        return self.policy.restore_output and self.state.restores

    def output(self, text: str) -> OutputVerdict:
        """post_call on a whole answer."""
        verdict = screen_output(text, self.policy, self.state)
        self.hits.extend(verdict.hits)
        return verdict

    def tool_calls(self, calls: Sequence[ToolCall]) -> tuple[tuple[ToolCall, ...], GuardrailBlocked | None]:
        """post_call on each call's arguments: the calls as they may be shown (masked or restored), or
        the block of the first call that is refused."""
        shown = []
        for call in calls:
            verdict = self.output(call.arguments)
            if verdict.blocked is not None:
                return (), verdict.blocked.error()
            shown.append(replace(call, arguments=verdict.text))
        return tuple(shown), None

    def window(self) -> StreamWindow | None:
        """post_call for a stream, or None when nothing is screened on output."""
        return StreamWindow(self.policy, self.state) if self.screens_output else None

    def add(self, hits: Iterable[Hit]) -> None:
        self.hits.extend(hits)

    def restore(self, text: str) -> str:
        """A stored (cached) answer with this call's masked values put back, when the policy says so."""
        return self.state.restore(text) if self.policy.restore_output else text

    def for_cache(self, raw: str, shown: str) -> str:
        """The answer to keep in the response cache: as shown, minus the restored values (they belong
        to this call, and the cache key holds only placeholders)."""
        if not (self.policy.restore_output and self.state.restores):
            return shown
        unrestored = self.policy.model_copy(update={"restore_output": False})
        return screen_output(raw, unrestored, self.state).text

    def counts(self) -> list[dict[str, Any]]:
        return hit_counts(self.hits)


class Guardrails:
    """pre_call for every chat door, threads included: the process's one instance."""

    def __init__(self, policies: PolicySource, moderator: Moderator | None = None) -> None:
        self._policies = policies
        self._moderator = moderator  # the provider's moderation endpoint, when MODERATION_MODEL is set

    async def policy(self, principal: Principal) -> Policy:
        return await self._policies.policy(principal.plan, principal.workspace_id)

    async def pre_call(self, principal: Principal, messages: list[dict[str, Any]], chars: int) -> CallGuard:
        """Screen `messages` (`chars` characters of text); raises GuardrailBlocked, logging the check."""
        policy = await self.policy(principal)
        if chars < OFF_LOOP_CHARS:
            verdict = screen_input(messages, policy)
        else:
            verdict = await anyio.to_thread.run_sync(screen_input, messages, policy)
        if verdict.blocked is not None:
            blocked = verdict.blocked
            metrics.GUARDRAIL_FINDINGS.add(
                1, {"check": blocked.check, "action": "block", "stage": blocked.stage}
            )
            log.info(
                "guardrail blocked",
                extra={
                    "guardrail": {
                        "check": blocked.check,
                        "kinds": list(blocked.kinds),
                        "stage": blocked.stage,
                        "hits": hit_counts(verdict.hits),
                    },
                    "user_id": principal.user_id,
                    "workspace_id": principal.workspace_id,
                },
            )
            raise blocked.error()
        guard = CallGuard(policy, verdict)
        check = policy.checks.moderation
        if check.runs("pre_call") or check.runs("during_call"):
            texts = texts_of(guard.messages)
            if check.runs("pre_call"):
                guard.add(await self._moderated(principal, check, texts))
            else:
                guard.beside = Beside(moderate(self._moderator, check, texts, "during_call"))
        return guard

    async def _moderated(self, principal: Principal, check: ModerationCheck, texts: list[str]) -> list[Hit]:
        try:
            return await moderate(self._moderator, check, texts, "pre_call")
        except GuardrailBlocked as blocked:
            metrics.GUARDRAIL_FINDINGS.add(1, {"check": "moderation", "action": "block", "stage": "pre_call"})
            log.info(
                "guardrail blocked",
                extra={
                    "guardrail": {"check": "moderation", "kinds": list(blocked.kinds), "stage": "pre_call"},
                    "user_id": principal.user_id,
                    "workspace_id": principal.workspace_id,
                },
            )
            raise


def blocked_after_output(error: GuardrailBlocked, credits: int) -> GuardrailBlocked:
    """A post_call block of a whole answer: the 400, saying what the produced tokens cost."""
    error.headers = {**error.headers, "X-Credits-Charged": str(credits)}
    return error
