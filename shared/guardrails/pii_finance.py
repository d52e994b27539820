"""Payment card numbers (Luhn) and IBANs (mod 97 and the country's length).

Cards: 13 to 19 digits, optionally in groups separated by single spaces or dashes, with a known
issuer prefix (Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37, Discover 6011/64/65, JCB 35, Diners
30/36/38/39, UnionPay 62, Maestro 50/56-69) and a valid Luhn check digit. IBANs: country code, two check
digits, then the account in upper-case letters and digits, optionally in groups of four.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from shared.guardrails.checksums import iban_ok, luhn_ok
from shared.guardrails.findings import Finding
from shared.guardrails.numbers import LOOKAROUND, Cluster, clusters

CARD_MAX = 19 + 18
_CARD = re.compile(r"(?<![\w\-.])\d(?:[ \-]?\d){12,18}(?![\w\-]|\.\d)")
_ISSUER = re.compile(r"[456]|2[2-7]|3[04-9]")


def find_cards(text: str, nums: Sequence[Cluster] | None = None) -> Iterator[Finding]:
    for m in (
        m
        for c in (clusters(text) if nums is None else nums)
        if c.digits >= 13
        for m in _CARD.finditer(text, c.start, min(len(text), c.end + LOOKAROUND))
    ):
        raw = m.group()
        seps = {ch for ch in raw if not ch.isdigit()}
        if len(seps) > 1:
            continue  # 4242-4242 4242 4242 mixes separators: more likely something else
        if seps and _in_longer_run(text, m.start(), m.end(), seps.pop()):
            continue
        digits = raw.replace(" ", "").replace("-", "")
        if _ISSUER.match(digits) and luhn_ok(digits):
            yield Finding("card", m.start(), m.end(), 40)


def _in_longer_run(text: str, start: int, end: int, sep: str) -> bool:
    """True when grouped digits go on before or after with the same separator: "4242 4242 4242 4242
    4242 4242" is one 24-digit number, not a card followed by more digits."""
    before = text[max(0, start - 5) : start]
    after = text[end : end + 6]
    return bool(
        (len(before) == 5 and before[-1] == sep and before[:4].isdigit())
        or (after[:1] == sep and after[1:5].isdigit() and not after[5:6].isdigit())
    )


IBAN_MAX = 34 + 8
_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{1,4}){3,8}(?![A-Za-z0-9])")


def find_ibans(text: str, nums: Sequence[Cluster] | None = None) -> Iterator[Finding]:
    for m in _IBAN.finditer(text):
        raw = m.group()
        # The regex is greedy over groups; a shorter prefix may be the IBAN when a word follows it.
        for end in range(len(raw), 14, -1):
            if end < len(raw) and raw[end] != " ":
                continue
            if iban_ok(raw[:end].replace(" ", "")):
                yield Finding("iban", m.start(), m.start() + end, 40)
                break
