"""A provider's moderation endpoint behind one small interface: `Moderator.moderate(texts)` says whether
any text is flagged and in which categories. The real one is the gateway's adapter over litellm's
`amoderation` (shared/gateway/moderation.py: OpenAI's `/v1/moderations`, e.g. omni-moderation-latest),
built when MODERATION_MODEL is set and its provider has a key; the tests point it at the fake provider's
own `/v1/moderations`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ModerationResult:
    flagged: bool
    categories: tuple[str, ...] = ()


class Moderator(Protocol):
    async def moderate(self, texts: list[str]) -> ModerationResult: ...


class ModerationUnavailable(Exception):
    """The endpoint did not answer (timeout, error status): the policy's `fail_closed` decides."""


def result_of(body: dict[str, Any]) -> ModerationResult:
    """OpenAI's moderation response: flagged if any result is, with the categories that are true."""
    flagged, categories = False, set[str]()
    for result in body.get("results") or []:
        flagged = flagged or bool(result.get("flagged"))
        categories.update(name for name, on in (result.get("categories") or {}).items() if on)
    return ModerationResult(flagged, tuple(sorted(categories)))
