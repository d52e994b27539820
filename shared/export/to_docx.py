"""Render a Document to DOCX with python-docx: the title as the document's Title, headings as Heading
1-6, list items in the List Bullet / List Number styles (deeper items in their "2" and "3" variants),
code in a monospace font. Word files hold any Unicode text; the reader's fonts draw it."""

from __future__ import annotations

import io

from docx import Document as new_docx
from docx.shared import Pt

from shared.export.document import Document

CODE_FONT = "Courier New"


def render_docx(doc: Document) -> bytes:
    out = new_docx()
    out.core_properties.title = doc.title
    out.add_heading(doc.title, level=0)
    for block in doc.blocks:
        if block.kind == "heading":
            out.add_heading(block.text, level=min(max(block.level, 1), 6))
        elif block.kind in ("bullet", "number"):
            style = "List Bullet" if block.kind == "bullet" else "List Number"
            depth = min(block.level, 3)
            out.add_paragraph(block.text, style=style if depth <= 1 else f"{style} {depth}")
        elif block.kind == "code":
            paragraph = out.add_paragraph()
            run = paragraph.add_run(block.text)
            run.font.name = CODE_FONT
            run.font.size = Pt(9)
        elif block.kind == "rule":
            out.add_paragraph("")
        else:
            out.add_paragraph(block.text)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()
