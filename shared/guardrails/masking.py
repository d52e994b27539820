"""Placeholders for masked values, per call, and putting the originals back.

Within one call the same value of the same kind always gets the same placeholder (`[EMAIL_1]` twice for
one address mentioned twice), so the model can still tell values apart and refer to them. The map lives
only in memory for the call; its repr shows counts, never values. Values masked on the way out (PII the
model produced) and banned words are not restorable: `restore` leaves their placeholders as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.guardrails.findings import Finding

LABELS = {
    "email": "EMAIL",
    "phone": "PHONE",
    "card": "CARD",
    "iban": "IBAN",
    "ssn": "SSN",
    "bd_nid": "BD_NID",
    "ip": "IP",
    "secret": "SECRET",
    "banned": "BANNED",
}
PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN|SSN|BD_NID|IP|SECRET|BANNED)_\d{1,6}\]")
PLACEHOLDER_MAX = 16


class CallState:
    """The placeholders of one call (a request and its answer)."""

    __slots__ = ("_by_value", "_counters", "_originals", "_taken")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._originals: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._taken: set[str] = set()

    def __repr__(self) -> str:
        return f"CallState(placeholders={len(self._by_value)}, restorable={len(self._originals)})"

    def reserve(self, text: str) -> None:
        """Never hand out a placeholder the input already contains (it would restore to the wrong thing)."""
        if "[" in text:
            self._taken.update(PLACEHOLDER.findall(text))

    def placeholder(self, kind: str, value: str, *, restorable: bool) -> str:
        key = (kind, value)
        known = self._by_value.get(key)
        if known is not None:
            return known
        label = LABELS[kind]
        n = self._counters.get(label, 0)
        while True:
            n += 1
            token = f"[{label}_{n}]"
            if token not in self._taken:
                break
        self._counters[label] = n
        self._taken.add(token)
        self._by_value[key] = token
        if restorable:
            self._originals[token] = value
        return token

    @property
    def restores(self) -> bool:
        """Whether this call masked input values that `restore` would put back."""
        return bool(self._originals)

    def original(self, token: str) -> str | None:
        return self._originals.get(token)

    def restore(self, text: str) -> str:
        """The text with every restorable placeholder of this call replaced by its original value."""
        if not self._originals or "[" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self._originals.get(m.group(), m.group()), text)


def apply(text: str, findings: Iterable[Finding], state: CallState, *, restorable: bool) -> str:
    """The text with each (non-overlapping, sorted) finding replaced by its placeholder."""
    out: list[str] = []
    pos = 0
    for f in findings:
        out.append(text[pos : f.start])
        out.append(
            state.placeholder(f.kind, text[f.start : f.end], restorable=restorable and f.kind != "banned")
        )
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def restore(text: str, state: CallState) -> str:
    return state.restore(text)
