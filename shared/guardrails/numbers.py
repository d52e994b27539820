"""Where the numbers are: the one pass over a text that the number-shaped recognizers share.

Phone, card, SSN, NID and IPv4 recognizers all need a run of digits. Scanning 4,000 characters of
prose with each of their regexes costs far more than finding the few digit clusters once and running
each recognizer only over those (`pattern.finditer(text, start, end)` still sees the characters around
the cluster for its look-behind and look-ahead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Digits (any script) joined by at most two separators each: "(415) 555-2671", "4242 4242 4242 4242",
# "192.168.0.1", "+880 1712-345678".
_CLUSTER = re.compile(r"\d(?:[ \-.)/(]{0,2}\d){3,}")  # every recognizer needs 4 digits or more
LOOKAROUND = 2  # characters past a cluster a recognizer's look-ahead may need


@dataclass(frozen=True, slots=True)
class Cluster:
    start: int
    end: int
    digits: int
    dots: int


def clusters(text: str) -> tuple[Cluster, ...]:
    """The digit clusters of a text; a scan finds them once and hands them to every recognizer."""
    out: list[Cluster] = []
    for m in _CLUSTER.finditer(text):
        raw = m.group()
        digits = sum(ch.isdigit() for ch in raw)
        start = m.start()
        if start > 0 and text[start - 1] in "+(":
            start -= 1  # the "+" of +44 ... or the "(" of (415) ...
        out.append(Cluster(start, m.end(), digits, raw.count(".")))
    return tuple(out)


def context_before(text: str, start: int, words: re.Pattern[str], reach: int = 40) -> bool:
    """True when one of `words` (a lower-case pattern anchored at `$`) ends just before `start`."""
    return words.search(text[max(0, start - reach) : start].lower()) is not None
