"""What a recognizer found: a kind and a span, never the text itself.

Recognizers may overlap (a card number also looks like a phone number, a JWT is also a high-entropy
token); `resolve` keeps one finding per stretch of text, preferring the more specific kind.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    """A span [start, end) of the scanned text that is of `kind` (e.g. "email", "card")."""

    kind: str
    start: int
    end: int
    priority: int = 0

    def shifted(self, offset: int) -> Finding:
        return Finding(self.kind, self.start + offset, self.end + offset, self.priority)


def resolve(findings: Iterable[Finding]) -> list[Finding]:
    """Non-overlapping findings in text order: higher priority first, then the longer span.

    O(n log n): the kept spans stay sorted by start, so a candidate only meets its two neighbours
    (a text made of thousands of findings must not cost n squared).
    """
    ranked = sorted(findings, key=lambda f: (-f.priority, f.start - f.end, f.start))
    starts: list[int] = []
    kept: list[Finding] = []
    for finding in ranked:
        i = bisect_left(starts, finding.start)
        if i > 0 and kept[i - 1].end > finding.start:
            continue
        if i < len(kept) and kept[i].start < finding.end:
            continue
        starts.insert(i, finding.start)
        kept.insert(i, finding)
    return kept
