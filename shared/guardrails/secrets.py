"""API keys and other secrets: known prefixes, PEM private keys, JWTs, and high-entropy tokens.

The prefixes are the providers' published formats (OpenAI `sk-`, Anthropic `sk-ant-`, AWS access key
ids `AKIA`/`ASIA`, GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`/`github_pat_`, Slack `xoxb-`/`xoxp-`,
Google `AIza`, Stripe `sk_live_`/`rk_live_`). Anything else long and random is caught by its Shannon
entropy: a run of at least `min_length` token characters mixing upper case, lower case and digits
whose entropy per character is at least `threshold` bits. Requiring all three character classes
keeps hex digests, UUIDs, paths and long identifiers out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from shared.guardrails.findings import Finding

SECRET_MAX = 256
_PREFIXED = re.compile(
    r"(?<![\w\-])(?:"
    r"sk-ant-[A-Za-z0-9_\-]{20,200}"
    r"|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,200}"
    r"|(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,251}"
    r"|github_pat_[A-Za-z0-9_]{22,242}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,200}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{20,200}"
    r"|eyJ[A-Za-z0-9_\-]{8,1000}\.eyJ[A-Za-z0-9_\-]{8,2000}\.[A-Za-z0-9_\-]{8,1000}"
    r")(?![\w\-])"
)
PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
# The whole block when its END line is there; otherwise the header and the base64 lines after it.
_PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[A-Za-z0-9+/=:,\-\s]{0,8192}?-----END \1PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\r\n]{0,8192})"
)
# Maximal runs (finditer resumes after each run), so no look-behind, which would slow the scan down.
_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{16,254}={0,2}")
_PREFIXES = ("sk-", "sk_", "rk_", "AKIA", "ASIA", "ABIA", "ACCA", "gh", "github_pat_", "xox", "AIza", "eyJ")


def _is_word(segment: str) -> bool:
    """A path segment that reads as a word ("src", "Main", "LICENSE"), not a slice of base64 ("HbkQfyy")."""
    return (
        len(segment) >= 3
        and segment.isalpha()
        and (segment.islower() or segment.istitle() or segment.isupper())
    )


_WORD = re.compile(r"[A-Z]?[a-z]{3,}")


def _mostly_words(token: str) -> bool:
    """True when words of three or more letters (CamelCase parts included) make up 60 % of the token."""
    return sum(len(w) for w in _WORD.findall(token)) >= 0.6 * len(token)


def shannon_entropy(token: str) -> float:
    """Bits per character of the token's own character distribution."""
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


def is_open_pem(piece: str) -> bool:
    """True for a PEM private key header found without its END line (a stream cut it, or it is long)."""
    return piece.startswith("-----BEGIN") and "-----END" not in piece


def find_secrets(text: str, *, min_length: int = 24, threshold: float = 4.0) -> Iterator[Finding]:
    if any(prefix in text for prefix in _PREFIXES):
        for m in _PREFIXED.finditer(text):
            yield Finding("secret", m.start(), m.end(), 50)
    if "PRIVATE KEY" in text:
        for m in _PEM.finditer(text):
            yield Finding("secret", m.start(), m.end(), 50)
    for m in _TOKEN.finditer(text):
        token = m.group()
        if len(token) < min_length:
            continue
        if not (
            any(c.islower() for c in token)
            and any(c.isupper() for c in token)
            and any(c.isdigit() for c in token)
        ):
            continue
        if "/" in token and sum(_is_word(seg) for seg in token.split("/")) >= 2:
            continue  # a path (src/Main/lib2): words between the slashes, not base64
        if _mostly_words(token):
            continue  # an identifier (RateLimitHandlerV3, A2ACompletionBridge), not random
        if shannon_entropy(token) >= threshold:
            yield Finding("secret", m.start(), m.end(), 5)
