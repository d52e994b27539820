"""What a screening decided. Only check names, kinds, counts and scores: no text in any repr."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.guardrails.errors import GuardrailBlocked
from shared.guardrails.masking import CallState
from shared.guardrails.policy import Action, Stage


@dataclass(frozen=True, slots=True)
class Blocked:
    check: str
    kinds: tuple[str, ...]
    stage: Stage

    def error(self) -> GuardrailBlocked:
        """The 400 `guardrail_blocked` the API answers with."""
        return GuardrailBlocked(self.check, self.kinds, self.stage)


@dataclass(frozen=True, slots=True)
class Hit:
    """A check that fired: for logs and metrics. `kind` is a PII kind, a limit or an injection rule."""

    check: str
    kind: str
    count: int
    action: Action


@dataclass(frozen=True)
class Verdict:
    """The result of `screen_input`. When `blocked` is None, send `messages` (masked) to the provider and
    keep `state` for `screen_output`/`restore` on the answer."""

    blocked: Blocked | None
    hits: tuple[Hit, ...]
    injection_score: float
    messages: list[Any] = field(repr=False)
    state: CallState = field(repr=False)
    messages_stripped: bool = False


@dataclass(frozen=True)
class OutputVerdict:
    """The result of `screen_output` or of one step of a `StreamWindow`: the text safe to emit."""

    blocked: Blocked | None
    hits: tuple[Hit, ...]
    text: str = field(repr=False)
