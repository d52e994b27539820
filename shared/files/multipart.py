"""multipart/form-data (RFC 7578), parsed from the whole body: the route's body limit (run_services/api/
middleware.py) already bounds it. A part's content is exactly the bytes between its headers and the next
boundary, so binary files come through unchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import BadRequest

MAX_PARTS = 20
_BOUNDARY = re.compile(r'boundary="?([^";]{1,70})"?', re.IGNORECASE)
_PARAM = re.compile(r'\b(name|filename)="((?:[^"\\]|\\.)*)"', re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content: bytes


class BadForm(BadRequest):
    code = "invalid_multipart"


def parse_form(content_type: str, body: bytes) -> dict[str, Part]:
    """The form's parts by name (the first of each name wins)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise BadForm("Send multipart/form-data with a `file` part and a `purpose` field.")
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise BadForm("The multipart Content-Type has no boundary.")
    delimiter = b"\r\n--" + found.group(1).encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise BadForm("The multipart body is malformed (no closing boundary).")
    if len(chunks) - 2 > MAX_PARTS:
        raise BadForm(f"The form has more than {MAX_PARTS} parts.")
    parts: dict[str, Part] = {}
    for chunk in chunks[1:-1]:
        part = _part(chunk)
        parts.setdefault(part.name, part)
    return parts


def _part(chunk: bytes) -> Part:
    head, sep, content = chunk.partition(b"\r\n\r\n")
    if not sep:
        raise BadForm("A multipart part has no headers.")
    name: str | None = None
    filename: str | None = None
    for line in head.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() != "content-disposition":
            continue
        for param, raw in _PARAM.findall(value):
            # Browsers and httpx write a quote as %22 (HTML's form encoding); older clients as \".
            text = raw.replace('\\"', '"').replace("%22", '"')
            if param.lower() == "name":
                name = text
            else:
                filename = text
    if name is None:
        raise BadForm("A multipart part has no name.")
    return Part(name, filename, content)
