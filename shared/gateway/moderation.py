"""The moderation endpoint through litellm's `amoderation` (OpenAI's `/v1/moderations`): the guardrails'
Moderator (shared/guardrails/moderation.py) when MODERATION_MODEL is set."""

from __future__ import annotations

from shared.gateway.lazy import load_litellm
from shared.guardrails.moderation import ModerationResult, ModerationUnavailable, result_of

MAX_INPUT_CHARS = 32_000  # per request: the endpoint's own limit is larger; the tail of a long prompt waits


class LitellmModerator:
    def __init__(self, model: str, api_key: str | None, api_base: str | None, timeout_s: float = 5.0) -> None:
        self.model = model
        self._api_key = api_key
        self._api_base = api_base
        self._timeout_s = timeout_s

    async def moderate(self, texts: list[str]) -> ModerationResult:
        joined = "\n\n".join(texts)[:MAX_INPUT_CHARS]
        try:
            response = await (await load_litellm()).amoderation(
                input=joined,
                model=self.model,
                api_key=self._api_key,
                api_base=self._api_base,
                timeout=self._timeout_s,
            )
        except Exception as exc:  # any failure of the endpoint: the caller's policy decides
            raise ModerationUnavailable(type(exc).__name__) from exc
        return result_of(response.model_dump() if hasattr(response, "model_dump") else dict(response))
