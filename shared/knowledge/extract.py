"""A stored file's text, by its sniffed type (shared/files/sniff.py): pypdf for PDF, python-docx for DOCX,
the research reader's HTML parser (stdlib tokenizer, bounded time) for HTML, the bytes as UTF-8 for TXT,
Markdown, CSV and JSON. CPU work: call it from a worker thread.

A file whose text cannot be had fails for good with ExtractFailed: an encrypted PDF (`file_encrypted`),
a PDF of more than MAX_PDF_PAGES pages (`too_many_pages`), a damaged document (`unreadable_file`), or
no text at all (a scanned PDF without a text layer: `no_text`). `max_chars` cuts the reading short:
the caller passes what its reservation can pay for, plus one, to know there is more.
"""

from __future__ import annotations

import io
import logging
import re

from shared.jobs.research.html_text import html_text

log = logging.getLogger("knowledge.extract")

MAX_PDF_PAGES = 2_000
HTML_BUDGET_S = 5.0
_BLANKS = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n{3,}")


class ExtractFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def extract_text(kind: str, data: bytes, max_chars: int) -> str:
    if kind == "pdf":
        text = _pdf(data, max_chars)
    elif kind == "docx":
        text = _docx(data, max_chars)
    elif kind == "html":
        text = html_text(data.decode("utf-8", "replace"), HTML_BUDGET_S)[1]
    else:
        text = data.decode("utf-8", "replace")
    text = tidy(text)[:max_chars]
    if not text.strip():
        raise ExtractFailed("no_text", "The file has no text to index (a scanned PDF needs OCR first).")
    return text


def tidy(text: str) -> str:
    text = text.replace("\x00", "")
    lines = (_BLANKS.sub(" ", line).strip() for line in text.split("\n"))
    return _LINES.sub("\n\n", "\n".join(lines)).strip()


def _pdf(data: bytes, max_chars: int) -> str:
    from pypdf import PdfReader  # imported on first use: the API never extracts
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractFailed("file_encrypted", "The PDF is encrypted; upload it without a password.")
        pages = len(reader.pages)
        if pages > MAX_PDF_PAGES:
            raise ExtractFailed(
                "too_many_pages", f"The PDF has {pages} pages; at most {MAX_PDF_PAGES} are indexed."
            )
        parts: list[str] = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size > max_chars:
                break
    except ExtractFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        log.info("pdf unreadable", extra={"error": type(exc).__name__})
        raise ExtractFailed("unreadable_file", "The PDF could not be read; it may be damaged.") from exc
    return "\n\n".join(parts)


def _docx(data: bytes, max_chars: int) -> str:
    import docx  # python-docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise ExtractFailed("unreadable_file", "The DOCX could not be read; it may be damaged.") from exc
    parts: list[str] = []
    size = 0
    for paragraph in document.paragraphs:
        parts.append(paragraph.text)
        size += len(paragraph.text)
        if size > max_chars:
            return "\n".join(parts)
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)
