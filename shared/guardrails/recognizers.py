"""The PII and secret recognizers by kind, and one call that runs a set of them over a text."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Literal

from shared.guardrails import pii_contact, pii_finance, pii_national, pii_network, secrets
from shared.guardrails.findings import Finding, resolve
from shared.guardrails.numbers import Cluster, clusters

PiiKind = Literal["email", "phone", "card", "iban", "ssn", "bd_nid", "ip"]
PII_KINDS: tuple[PiiKind, ...] = ("email", "phone", "card", "iban", "ssn", "bd_nid", "ip")

_PII: dict[str, tuple[Callable[[str, Sequence[Cluster]], Iterator[Finding]], ...]] = {
    "email": (pii_contact.find_emails,),
    "phone": (pii_contact.find_phones,),
    "card": (pii_finance.find_cards,),
    "iban": (pii_finance.find_ibans,),
    "ssn": (pii_national.find_ssns,),
    "bd_nid": (pii_national.find_bd_nids,),
    "ip": (pii_network.find_ipv4, pii_network.find_ipv6),
}

# The longest text any single recognizer matches: the streaming window holds back at least this much
# (the PEM block and JWTs can be longer; their parts are still caught as high-entropy tokens).
MAX_FINDING = max(
    pii_contact.EMAIL_MAX,
    pii_contact.PHONE_MAX,
    pii_finance.CARD_MAX,
    pii_finance.IBAN_MAX,
    pii_national.SSN_MAX,
    pii_national.NID_MAX,
    pii_network.IPV6_MAX,
    secrets.SECRET_MAX,
)


def scan_pii(text: str, kinds: Collection[str]) -> list[Finding]:
    """Every finding of the given PII kinds (overlaps not yet resolved)."""
    found: list[Finding] = []
    if not any(ch.isdigit() for ch in text) and "@" not in text:
        return found  # every PII kind needs a digit, except an email's "@"
    nums = clusters(text)
    for kind in kinds:
        for finder in _PII[kind]:
            found.extend(finder(text, nums))
    return found


def scan_secrets(text: str, *, min_length: int, threshold: float) -> list[Finding]:
    return list(secrets.find_secrets(text, min_length=min_length, threshold=threshold))


def scan(
    text: str, kinds: Collection[str], *, secrets_on: bool, min_length: int = 24, threshold: float = 4.0
) -> list[Finding]:
    """PII of the given kinds and, if on, secrets, overlaps resolved (the more specific kind wins)."""
    found = scan_pii(text, kinds)
    if secrets_on:
        found.extend(scan_secrets(text, min_length=min_length, threshold=threshold))
    return resolve(found)
