"""Masking personal data and secrets in free text that leaves the process (error reports, exception log
lines), with the guardrails' recognizers: emails, phone and card numbers, IBANs, national ids, IP
addresses and secrets become `[kind]`."""

from __future__ import annotations

from shared.guardrails.recognizers import PII_KINDS, scan


def mask(text: str) -> str:
    """`text` with every PII or secret span replaced by its kind in brackets."""
    findings = scan(text, PII_KINDS, secrets_on=True)
    for finding in sorted(findings, key=lambda f: f.start, reverse=True):
        text = text[: finding.start] + f"[{finding.kind}]" + text[finding.end :]
    return text
