"""IPv4 and IPv6 addresses, valid ones only (every IPv4 octet 0-255, IPv6 as `ipaddress` parses it).

Version numbers (1.2.3.4.5), times (12:30:45) and C++ scopes (std::vector, abc::def) are not
addresses: an IPv4 address may not sit inside a longer dotted run, and an IPv6 candidate needs at
least three non-empty groups unless it is written with a leading `::` (::1) or ends in an IPv4 part.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence

from shared.guardrails.findings import Finding
from shared.guardrails.numbers import LOOKAROUND, Cluster, clusters

IPV4_MAX = 15
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?<!\d\.){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")

IPV6_MAX = 45
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3}|:?)(?![\w:])"
)


def find_ipv4(text: str, nums: Sequence[Cluster] | None = None) -> Iterator[Finding]:
    for c in clusters(text) if nums is None else nums:
        if c.dots >= 3 and c.digits >= 4:
            for m in _IPV4.finditer(text, c.start, min(len(text), c.end + LOOKAROUND)):
                yield Finding("ip", m.start(), m.end(), 15)


def find_ipv6(text: str, nums: Sequence[Cluster] | None = None) -> Iterator[Finding]:
    if "::" not in text and text.count(":") < 7:
        return
    for m in _IPV6.finditer(text):
        raw = m.group().rstrip(":") if not m.group().endswith("::") else m.group()
        try:
            ipaddress.IPv6Address(raw)
        except ValueError:
            continue
        groups = [g for g in raw.split(":") if g]
        if len(groups) >= 3 or (raw.startswith("::") and groups) or "." in raw:
            yield Finding("ip", m.start(), m.start() + len(raw), 15)
