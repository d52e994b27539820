"""Email addresses and phone numbers.

Phone numbers are the hard part: plain digit runs are order numbers, dates, prices and ids far more
often than phones. So a number counts as a phone when it has an international `+` prefix, or the
grouping of a common national format (US `(555) 123-4567`, UK `020 7946 0958`, Bangladesh mobiles
`01712-345678`), or when a word like "phone" or "call" stands just before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from shared.guardrails.findings import Finding
from shared.guardrails.numbers import LOOKAROUND, Cluster, clusters, context_before

EMAIL_MAX = 64 + 1 + 189 + 1 + 24
# Anchored at each "@": the domain is matched forwards from it, the local part backwards (a forward
# match over the reversed 64 characters before it). Two short anchored matches per "@", so a text
# of thousands of "@" stays linear.
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_LOCAL_REVERSED = re.compile(r"[A-Za-z0-9._%+-]{1,64}")
_DOMAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,188}\.[A-Za-z]{2,24}(?![\w-])")


def _local_start(text: str, at: int, floor: int) -> int | None:
    """Where the local part before text[at] == "@" starts, or None (none, or longer than 64)."""
    if at == 0 or text[at - 1] not in _LOCAL_CHARS:
        return None
    lo = max(floor, at - 65)
    m = _LOCAL_REVERSED.match(text[lo:at][::-1])
    assert m is not None
    start = at - m.end()
    if start > 0 and (text[start - 1] in _LOCAL_CHARS or text[start - 1].isalnum() or text[start - 1] == "_"):
        return None  # the run goes on: longer than 64 characters, or glued to a word
    return start


def find_emails(text: str, nums: Sequence[Cluster] | None = None) -> Iterator[Finding]:
    at = text.find("@")
    last_end = 0
    while at != -1:
        domain = _DOMAIN.match(text, at + 1) if at >= last_end else None
        start = _local_start(text, at, last_end) if domain else None
        if domain and start is not None:
            local = text[start:at]
            if not (local.startswith(".") or local.endswith(".") or ".." in local or ".." in domain.group()):
                yield Finding("email", start, domain.end(), 20)
            last_end = domain.end()
        at = text.find("@", at + 1)


PHONE_MAX = 32
# +<country code><number>, 8 to 15 digits in all (E.164), with the usual separators and one (area).
_INTERNATIONAL = r"\+[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,4}\)?){1,6}"
_NATIONAL = "|".join(
    (
        r"\(\d{3}\)[ ]?\d{3}[ .\-]\d{4}",  # (555) 123-4567
        r"\d{3}([.\-])\d{3}\1\d{4}",  # 555-123-4567, 555.123.4567
        r"\d{3} \d{3} \d{4}",  # 555 123 4567
        r"0\d{2,4} \d{3,4} ?\d{3,4}",  # UK and many trunk-prefix formats: 020 7946 0958, 01632 960001
        r"01[3-9]\d{2}[ \-]?\d{6}",  # Bangladesh mobile: 01712-345678, 01712345678
    )
)
_PHONE = re.compile(rf"(?<![\w+.\-/])(?:{_INTERNATIONAL}|{_NATIONAL})(?![\w\-/]|\.\d)")
_BARE = re.compile(r"(?<![\w.\-])\d{7,15}(?![\w\-/]|\.\d)")
_PHONE_WORDS = re.compile(
    r"(?:phone|tel|telephone|mobile|cell|call|whatsapp|fax|sms|text me|ফোন|মোবাইল)\b[^\n\d]{0,16}$"
)


def find_phones(text: str, nums: Sequence[Cluster] | None = None) -> Iterator[Finding]:
    for c in clusters(text) if nums is None else nums:
        if c.digits < 7:
            continue
        end = min(len(text), c.end + LOOKAROUND)
        for m in _PHONE.finditer(text, c.start, end):
            if 8 <= sum(ch.isdigit() for ch in m.group()) <= 15:
                yield Finding("phone", m.start(), m.end(), 10)
        for m in _BARE.finditer(text, c.start, end):
            if context_before(text, m.start(), _PHONE_WORDS):
                yield Finding("phone", m.start(), m.end(), 10)
