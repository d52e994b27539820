"""A provider's moderation endpoint behind one small interface: `Moderator.moderate(texts)` says whether
any text is flagged and in which categories. The real one is litellm's `amoderation` (OpenAI's
`/v1/moderations`, e.g. omni-moderation-latest), built when MODERATION_MODEL is set and its provider has
a key; the tests point it at the fake provider's own `/v1/moderations`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

MAX_INPUT_CHARS = 32_000  # per request: the endpoint's own limit is larger; the tail of a long prompt waits


@dataclass(frozen=True)
class ModerationResult:
    flagged: bool
    categories: tuple[str, ...] = ()


class Moderator(Protocol):
    async def moderate(self, texts: list[str]) -> ModerationResult: ...


class ModerationUnavailable(Exception):
    """The endpoint did not answer (timeout, error status): the policy's `fail_closed` decides."""


class LitellmModerator:
    def __init__(self, model: str, api_key: str | None, api_base: str | None, timeout_s: float = 5.0) -> None:
        self.model = model
        self._api_key = api_key
        self._api_base = api_base
        self._timeout_s = timeout_s

    async def moderate(self, texts: list[str]) -> ModerationResult:
        import litellm

        joined = "\n\n".join(texts)[:MAX_INPUT_CHARS]
        try:
            response = await litellm.amoderation(
                input=joined,
                model=self.model,
                api_key=self._api_key,
                api_base=self._api_base,
                timeout=self._timeout_s,
            )
        except Exception as exc:  # any failure of the endpoint: the caller's policy decides
            raise ModerationUnavailable(type(exc).__name__) from exc
        return result_of(response.model_dump() if hasattr(response, "model_dump") else dict(response))


def result_of(body: dict[str, Any]) -> ModerationResult:
    """OpenAI's moderation response: flagged if any result is, with the categories that are true."""
    flagged, categories = False, set[str]()
    for result in body.get("results") or []:
        flagged = flagged or bool(result.get("flagged"))
        categories.update(name for name, on in (result.get("categories") or {}).items() if on)
    return ModerationResult(flagged, tuple(sorted(categories)))
