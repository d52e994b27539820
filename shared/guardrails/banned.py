"""Banned words and regular expressions from a policy: compiled once, when the policy is loaded.

Policy patterns come from workspace admins, so they are untrusted: each is capped in length, must
compile, may not nest quantifiers (`(a+)+`, `(\\w*)*`, the classic catastrophic-backtracking shapes),
and runs under the `regex` module's per-call timeout. A scan that times out counts as a hit
(`timeout`): failing closed, so a pathological pattern cannot be used to let text through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from shared.guardrails.findings import Finding

MAX_PATTERN = 200
MAX_PATTERNS = 50
MAX_WORDS = 500
TIMEOUT_S = 0.05
# A quantified group with a quantifier inside it: (a+)+, (?:x*y)*, (\w+\s?)*, (a|b+){2,}: the classic
# catastrophic-backtracking shapes. Conservative (it also refuses some safe patterns, like (ab+c)+).
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*(?<!\\)[+*}](?:[^()\\]|\\.)*\)[+*{]")


class PatternProblem(ValueError):
    """Why pattern number `index` was refused (the message names the pattern, which is policy, not input)."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(problem)
        self.index = index


def compile_pattern(index: int, pattern: str) -> Any:
    if len(pattern) > MAX_PATTERN:
        raise PatternProblem(index, f"longer than {MAX_PATTERN} characters")
    if _NESTED.search(pattern):
        raise PatternProblem(index, f"{pattern!r} nests quantifiers (catastrophic backtracking)")
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.V0)
    except regex.error as exc:
        raise PatternProblem(index, f"{pattern!r} does not compile: {exc}") from None


@dataclass(frozen=True)
class BannedMatcher:
    """The words (whole words, any case) as one alternation, and the patterns, ready to scan."""

    words: Any | None
    patterns: tuple[Any, ...]

    @classmethod
    def build(cls, words: Sequence[str], patterns: Sequence[str]) -> BannedMatcher:
        compiled = tuple(compile_pattern(i, p) for i, p in enumerate(patterns))
        alternation = "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True) if w)
        word_re = regex.compile(rf"(?<!\w)(?:{alternation})(?!\w)", regex.IGNORECASE) if alternation else None
        return cls(word_re, compiled)

    def find(self, text: str) -> Iterator[Finding]:
        for compiled in (self.words, *self.patterns):
            if compiled is None:
                continue
            try:
                for m in compiled.finditer(text, timeout=TIMEOUT_S):
                    if m.end() > m.start():
                        yield Finding("banned", m.start(), m.end(), 60)
            except TimeoutError:
                yield Finding("timeout", 0, 0, 60)
