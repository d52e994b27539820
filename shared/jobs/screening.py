"""Guardrails for jobs: a job's prompt (an image's or a video's `prompt`, research's `question`) goes
through the caller's pre_call policy when the job is created, before anything is reserved, like a chat
message: a block is 400 guardrail_blocked with no job and no hold; a mask rewrites the prompt the job keeps
and the provider sees (a job's output is a file, so nothing is restored into it)."""

from __future__ import annotations

from pydantic import BaseModel

from shared.auth.schemas import Principal
from shared.chat.guard import Guardrails
from shared.jobs.schemas import JobCreate

PROMPT_FIELDS = ("prompt", "question")


async def screened(guardrails: Guardrails, principal: Principal, request: JobCreate) -> JobCreate:
    """The request as the policy lets it through (masked), or GuardrailBlocked raised."""
    data = request.input
    if not isinstance(data, BaseModel):
        return request
    field = next((f for f in PROMPT_FIELDS if isinstance(getattr(data, f, None), str)), None)
    if field is None:
        return request
    text: str = getattr(data, field)
    guard = await guardrails.pre_call(principal, [{"role": "user", "content": text}], len(text))
    masked = guard.messages[0]["content"]
    if masked == text:
        return request
    return request.model_copy(update={"input": data.model_copy(update={field: masked})})
