"""The two errors the guardrails raise; neither message ever carries prompt or output text."""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import BadRequest


class PolicyError(BadRequest):
    """A guardrail policy that does not validate. `field` is the dotted path of the first bad field
    (e.g. `checks.banned.patterns.2`), so the API can answer 400 naming it."""

    code = "invalid_guardrail_policy"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"guardrail policy: {field}: {problem}" if field else f"guardrail policy: {problem}")
        self.field = field
        self.problem = problem


class GuardrailBlocked(BadRequest):
    """A check whose action is `block` fired. Names the check and the kinds found, never the text."""

    code = "guardrail_blocked"

    def __init__(self, check: str, kinds: Sequence[str], stage: str) -> None:
        what = f" ({', '.join(kinds)})" if kinds else ""
        super().__init__(f"blocked by the guardrail check {check!r}{what} at {stage}")
        self.check = check
        self.kinds = tuple(kinds)
        self.stage = stage
