"""What a file is, from its bytes (never from its name or the client's content type).

PDF by its `%PDF-` header; DOCX by a zip whose central directory names `word/document.xml`, read with
zipfile's infolist only (nothing is extracted), refused as a zip bomb when the declared uncompressed sizes,
their ratio to the compressed ones, or the entry count pass the limits below; UTF-8 text by its content:
JSON when it parses, HTML when it opens like a document, CSV when its first lines split into the same
number of fields (two or more), Markdown when its lines look like Markdown, plain text otherwise.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from shared.errors import BadRequest

HEAD_BYTES = 65_536  # what sniff_stored reads of a stored object
MAX_ZIP_ENTRIES = 1_000
MAX_ZIP_UNCOMPRESSED = 200_000_000
MAX_ZIP_RATIO = 100

_HTML = re.compile(rb"^\s*(<!doctype html|<html[\s>]|<head[\s>]|<body[\s>])", re.IGNORECASE)
_MARKDOWN = re.compile(r"^(#{1,6} \S|[-*+] \S|\d+\. \S|> |```|\|.*\|\s*$)|\[[^\]]+\]\([^)]+\)", re.MULTILINE)


@dataclass(frozen=True)
class Kind:
    name: str  # pdf, docx, txt, md, html, csv, json
    mime: str


PDF = Kind("pdf", "application/pdf")
DOCX = Kind("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
TXT = Kind("txt", "text/plain; charset=utf-8")
MD = Kind("md", "text/markdown; charset=utf-8")
HTML = Kind("html", "text/html; charset=utf-8")
CSV = Kind("csv", "text/csv; charset=utf-8")
JSON = Kind("json", "application/json")


class EmptyFile(BadRequest):
    code = "empty_file"

    def __init__(self) -> None:
        super().__init__("The file is empty (0 bytes).")


class UnsupportedFileType(BadRequest):
    code = "unsupported_file_type"

    def __init__(self, why: str) -> None:
        super().__init__(f"{why} Supported: PDF, DOCX, and UTF-8 text (TXT, Markdown, HTML, CSV, JSON).")


def sniff(data: bytes) -> Kind:
    """The file's kind, or 400 empty_file / unsupported_file_type."""
    if not data:
        raise EmptyFile()
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return _docx(data)
    return _text(data)


def sniff_stored(head: bytes, size: int, whole: Callable[[], BinaryIO]) -> Kind:
    """The kind of a stored object of `size` bytes from its first bytes (`head`, HEAD_BYTES or all of a
    smaller one); a zip is read through `whole()`, a seekable view of the object (its directory is at the
    end). Text is judged on the head: JSON by its opening when the head is not the whole object."""
    if size == 0 or not head:
        raise EmptyFile()
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _docx(whole())
    if len(head) >= size:
        return _text(head)
    # Cut at a character's boundary: the head may end inside a multi-byte UTF-8 character.
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise UnsupportedFileType("The file is neither a PDF, a DOCX, nor UTF-8 text.") from exc
    return _text(text.encode(), partial=True)


def _docx(data: bytes | BinaryIO) -> Kind:
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise UnsupportedFileType("The file looks like a zip archive but cannot be read.") from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise UnsupportedFileType(f"The archive has more than {MAX_ZIP_ENTRIES} entries.")
    unpacked = sum(e.file_size for e in entries)
    packed = sum(e.compress_size for e in entries)
    if unpacked > MAX_ZIP_UNCOMPRESSED or unpacked > MAX_ZIP_RATIO * max(packed, 1):
        raise UnsupportedFileType("The archive expands too far (a zip bomb?).")
    if not any(e.filename == "word/document.xml" for e in entries):
        raise UnsupportedFileType("The zip archive is not a Word document (DOCX).")
    return DOCX


def _text(data: bytes, partial: bool = False) -> Kind:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedFileType("The file is neither a PDF, a DOCX, nor UTF-8 text.") from exc
    if "\x00" in text or any(ord(c) < 32 and c not in "\t\n\r\f" for c in text[:4096]):
        raise UnsupportedFileType("The file holds binary data.")
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and partial:
        return JSON  # a prefix of a large document cannot be parsed; ingestion fails it if it is not JSON
    if stripped[:1] in ("{", "["):
        try:
            json.loads(stripped)
        except ValueError:
            pass
        else:
            return JSON
    if _HTML.match(data[:1024]):
        return HTML
    if _csv(stripped):
        return CSV
    if _MARKDOWN.search(text[:20_000]):
        return MD
    return TXT


def _csv(text: str) -> bool:
    lines = text.splitlines()[:20]
    if len(lines) < 2:
        return False
    try:
        rows = list(csv.reader(lines))
    except csv.Error:
        return False
    widths = {len(r) for r in rows}
    return len(widths) == 1 and widths.pop() >= 2
