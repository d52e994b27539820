"""Invisible and direction-changing Unicode: how much of it a text hides, and the text without it.

Attackers hide instructions in characters a human reviewer does not see: zero-width spaces between
letters, the Unicode tag block (U+E0000-U+E007F, which spells ASCII invisibly) and bidirectional
overrides (U+202E RLO) that display text in another order. Legitimate uses are kept out: ZWJ/ZWNJ
join emoji and shape Bengali, Persian and Indic scripts, so they count only between ASCII letters, and
tag characters are fine inside a subdivision flag emoji (U+1F3F4 ... U+E007F).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ZERO_WIDTH = "\u200b\u2060\u2061\u2062\u2063\u2064\u180e\ufeff"
_JOINERS = "\u200c\u200d"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,12}\U000e007f")
_TAG = re.compile("[\U000e0000-\U000e007f]")
_ASCII_JOINER = re.compile(f"(?<=[A-Za-z])[{_JOINERS}]+(?=[A-Za-z])")
_ALL = re.compile(f"[{_ZERO_WIDTH}{_BIDI}\U000e0000-\U000e007f]|(?<=[A-Za-z])[{_JOINERS}]+(?=[A-Za-z])")


@dataclass(frozen=True, slots=True)
class Hidden:
    zero_width: int
    tags: int
    bidi: int
    overrides: int = 0  # RLO/LRO: reverse how the text displays; rare outside attacks

    @property
    def any(self) -> bool:
        return bool(self.zero_width or self.tags or self.bidi)


def _has_candidates(text: str) -> bool:
    return not text.isascii()


def inspect(text: str) -> Hidden:
    if not _has_candidates(text):
        return Hidden(0, 0, 0)
    body = text[1:] if text.startswith("\ufeff") else text  # a leading BOM is harmless
    tags = len(_TAG.findall(_FLAG.sub("", body)))
    zero_width = sum(body.count(ch) for ch in _ZERO_WIDTH) + sum(
        len(m.group()) for m in _ASCII_JOINER.finditer(body)
    )
    bidi = sum(body.count(ch) for ch in _BIDI)
    return Hidden(zero_width, tags, bidi, body.count("\u202d") + body.count("\u202e"))


def remove(text: str) -> str:
    """The text without the invisible characters `inspect` counts (flag emoji kept whole)."""
    if not _has_candidates(text):
        return text
    flags = [m.span() for m in _FLAG.finditer(text)]
    if not flags:
        return _ALL.sub("", text)
    out: list[str] = []
    pos = 0
    for start, end in flags:
        out.append(_ALL.sub("", text[pos:start]))
        out.append(text[start:end])
        pos = end
    out.append(_ALL.sub("", text[pos:]))
    return "".join(out)
