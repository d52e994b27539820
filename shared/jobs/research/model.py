"""One metered model call of a research step, through the gateway (routing, retries, breaker, timeouts).

The call is made on the requested model only (no fallbacks: a fallback could be dearer than the hold
was reserved for) with a fixed output limit, and costs its real usage at the catalog price of the model
that served it. A failure becomes StepFailed: the provider being down or rate limited is retried by the
job's task, a request the model refuses is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.catalog.catalog import ModelSpec
from shared.errors import AppError
from shared.gateway.gateway import Gateway
from shared.gateway.types import Candidate
from shared.jobs.errors import StepFailed


@dataclass(frozen=True)
class ModelAnswer:
    text: str
    cost: int
    input_tokens: int
    output_tokens: int


async def call_model(
    gateway: Gateway, spec: ModelSpec, messages: list[dict[str, Any]], max_tokens: int
) -> ModelAnswer:
    candidate = Candidate(spec, max_tokens, gateway.count_prompt(spec, messages))
    try:
        completion = await gateway.complete([candidate], messages, {})
    except AppError as exc:
        retryable = exc.status == 429 or exc.status >= 500
        raise StepFailed(exc.message, code=exc.code, retryable=retryable) from exc
    served = completion.served.spec if completion.served is not None else spec
    usage = completion.usage
    return ModelAnswer(completion.text, usage.cost(served), usage.input_tokens, usage.output_tokens)
