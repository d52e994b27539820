"""The models that may serve a chat call, and at what output limit: pure arithmetic, no I/O.

Money (shared/gateway/router.py says how the chain is walked): the hold is reserved at the largest
worst case over the chain when the balance allows (the requested model's smallest call is all that
is required), and a fallback is kept only if its own worst case fits the hold that was granted, so
the serving model's real cost never exceeds the hold and settling never has to cut a fallback's
charge. The requested model is always first, its output cut to what the hold pays for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.catalog.catalog import ModelSpec
from shared.errors import BadRequest
from shared.gateway.types import Candidate


def output_limit(spec: ModelSpec, prompt_tokens: int, max_tokens: int | None) -> int:
    """The output limit a request on `spec` asks for: the client's, capped by the model and by the
    room its context leaves after the prompt. Raises when the prompt alone does not fit."""
    room = spec.context_window - prompt_tokens
    if room < 1:
        raise BadRequest(
            f"The prompt is about {prompt_tokens} tokens; {spec.id} takes {spec.context_window}. "
            "Shorten the conversation.",
            code="context_length_exceeded",
        )
    return min(max_tokens or spec.max_output_tokens, spec.max_output_tokens, room)


@dataclass(frozen=True)
class ChainPlan:
    """The requested model at the output it wants, and the fallbacks that may serve, before the hold."""

    requested: Candidate
    fallbacks: tuple[Candidate, ...]

    @property
    def worst_case(self) -> int:
        """What the costliest candidate could cost: the hold asked for."""
        return max(c.spec.cost(c.input_tokens, c.max_tokens) for c in (self.requested, *self.fallbacks))

    @property
    def minimum(self) -> int:
        """The requested model's smallest call (one output token): the least hold that lets it run."""
        return self.requested.spec.cost(self.requested.input_tokens, 1)

    def within(self, hold: int) -> list[Candidate]:
        """The chain for a hold of `hold` credits: the requested model at the output the hold pays
        for (at least one token), then each fallback at no more output than that, if it fits."""
        first = self.requested
        affordable = first.spec.affordable_output(hold, first.input_tokens)
        first = Candidate(first.spec, max(1, min(first.max_tokens, affordable)), first.input_tokens)
        chain = [first]
        for option in self.fallbacks:
            limited = Candidate(option.spec, min(option.max_tokens, first.max_tokens), option.input_tokens)
            if limited.spec.cost(limited.input_tokens, limited.max_tokens) <= hold:
                chain.append(limited)
        return chain


def plan_chain(
    requested: Candidate,
    fallbacks: Sequence[ModelSpec],
    prompt_tokens: Mapping[str, int],
    allowed: Callable[[str], bool],
    needs: frozenset[str] = frozenset(),
) -> ChainPlan:
    """`requested` at its wanted output; each fallback the plan allows, that has every capability the
    request `needs` (tools, ...) and whose context takes the prompt (`prompt_tokens[id]`, counted at its
    own tokenizer), at its own output limit."""
    options = []
    for spec in fallbacks:
        if not allowed(spec.id) or not all(spec.supports(name) for name in needs):
            continue
        tokens = prompt_tokens[spec.id]
        limit = min(requested.max_tokens, spec.max_output_tokens, spec.context_window - tokens)
        if limit >= 1:
            options.append(Candidate(spec, limit, tokens))
    return ChainPlan(requested, tuple(options))
