"""National ids: US Social Security numbers and Bangladesh national ids (NID).

SSN: AAA-GG-SSSS; never area 000, 666 or 900-999, group 00 or serial 0000 (SSA rules), and not the
numbers the SSA voided after they were printed in advertising (078-05-1120, 219-09-9999). The dashed
or spaced form counts on its own; nine bare digits only after "SSN" or "social security".

Bangladesh NID: 17 digits (birth year + the 13-digit number), 13 digits (district code, RMO code,
upazila, union/ward, serial) or 10 digits (smart card). The 17-digit form carries its structure (a
plausible year, then one of the 64 district codes) and counts on its own; 13 and 10 digits are too
common to flag without a word such as "NID" or "national id" shortly before them. ASCII and Bengali
digits both count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from shared.guardrails.findings import Finding
from shared.guardrails.numbers import LOOKAROUND, Cluster, clusters, context_before

SSN_MAX = 11
_SSN = re.compile(r"(?<![\w\-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w\-])")
_SSN_BARE = re.compile(r"(?<![\w\-])(\d{3})(\d{2})(\d{4})(?![\w\-])")
_SSN_WORDS = re.compile(r"(?:\bssn|social security(?: number| no\.?)?)\b[^\n\d]{0,16}$")
_VOIDED = {"078051120", "219099999"}


def ssn_ok(area: str, group: str, serial: str) -> bool:
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _VOIDED


def find_ssns(text: str, nums: Sequence[Cluster] | None = None) -> Iterator[Finding]:
    for c in clusters(text) if nums is None else nums:
        if c.digits < 9:
            continue
        end = min(len(text), c.end + LOOKAROUND)
        for m in _SSN.finditer(text, c.start, end):
            if ssn_ok(m.group(1), m.group(3), m.group(4)):
                yield Finding("ssn", m.start(), m.end(), 30)
        for m in _SSN_BARE.finditer(text, c.start, end):
            if ssn_ok(m.group(1), m.group(2), m.group(3)) and context_before(text, m.start(), _SSN_WORDS):
                yield Finding("ssn", m.start(), m.end(), 30)


# Bangladesh Bureau of Statistics district geo-codes (64 districts).
BD_DISTRICTS = frozenset(
    {
        "01", "03", "04", "06", "09", "10", "12", "13", "15", "18", "19", "22", "26", "27", "29", "30",
        "32", "33", "35", "36", "38", "39", "41", "42", "44", "46", "47", "48", "49", "50", "51", "52",
        "54", "55", "56", "57", "58", "59", "61", "64", "65", "67", "68", "69", "70", "72", "73", "75",
        "76", "77", "78", "79", "81", "82", "84", "85", "86", "87", "88", "89", "90", "91", "93", "94",
    }
)  # fmt: skip
NID_MAX = 17 + 4
_NID = re.compile(r"(?<![\w\-])\d(?:[ \-]?\d){9,16}(?![\w\-])")
_NID_WORDS = re.compile(
    r"(?:\bnid|national id(?:entity)?(?: card)?(?: (?:no|number))?|voter id|smart ?card|এনআইডি|"
    r"জাতীয় পরিচয়(?:পত্র)?)[^\n\d]{0,16}$"
)
_TO_ASCII = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")


def _year_ok(year: str) -> bool:
    return 1900 <= int(year) <= 2030


def nid_structure(digits: str) -> bool:
    """The 17-digit form: a birth year, then a district code."""
    return len(digits) == 17 and _year_ok(digits[:4]) and digits[4:6] in BD_DISTRICTS


def find_bd_nids(text: str, nums: Sequence[Cluster] | None = None) -> Iterator[Finding]:
    for c in clusters(text) if nums is None else nums:
        if c.digits < 10:
            continue
        for m in _NID.finditer(text, c.start, min(len(text), c.end + LOOKAROUND)):
            digits = re.sub(r"[ \-]", "", m.group()).translate(_TO_ASCII)
            if nid_structure(digits) and " " not in m.group() and "-" not in m.group():
                yield Finding("bd_nid", m.start(), m.end(), 35)
                continue
            if context_before(text, m.start(), _NID_WORDS) and (
                len(digits) == 10
                or (len(digits) == 13 and digits[:2] in BD_DISTRICTS)
                or nid_structure(digits)
            ):
                yield Finding("bd_nid", m.start(), m.end(), 45)
