"""Render a Document to PDF with fpdf2 (pure Python).

Unicode needs a TrueType font embedded in the file: settings.export_font_path (for example
DejaVuSans.ttf), else DejaVu Sans where the system has it (Debian's fonts-dejavu-core). Its bold and
mono siblings are used when they sit beside it (DejaVuSans-Bold.ttf, DejaVuSansMono.ttf). Characters the
font has no glyph for are drawn as "?" rather than left out silently. Without any TrueType font the PDF
falls back to the built-in Helvetica and Courier, which only cover Latin-1: everything else becomes "?"
(logged), so an export never fails on its text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.export.document import Block, Document
from shared.export.fonts import SYSTEM_FONTS, find_font

__all__ = ["SYSTEM_FONTS", "find_font", "render_pdf"]

log = logging.getLogger("export.pdf")
logging.getLogger("fontTools").setLevel(logging.WARNING)  # fpdf2 subsets fonts with it, chattily at INFO

HEADING_SIZES = {1: 20, 2: 16, 3: 14}
BODY_SIZE = 11
CODE_SIZE = 9
INDENT_MM = 6


@dataclass(frozen=True)
class Fonts:
    body: str
    bold: str
    mono: str
    cover: frozenset[int] | None  # code points the body font can draw; None: Latin-1 only (core fonts)


@lru_cache(maxsize=4)
def _cover(path: Path) -> frozenset[int]:
    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def _load_fonts(pdf: FPDF, font: Path | None) -> Fonts:
    if font is None:
        return Fonts("helvetica", "helvetica", "courier", None)
    pdf.add_font("body", "", str(font))
    bold = font.with_name(font.stem + "-Bold" + font.suffix)
    pdf.add_font("body", "B", str(bold if bold.is_file() else font))
    mono = font.with_name(font.stem + "Mono" + font.suffix)
    pdf.add_font("mono", "", str(mono if mono.is_file() else font))
    return Fonts("body", "body", "mono", _cover(font))


def _clean(text: str, fonts: Fonts) -> str:
    if fonts.cover is None:
        return text.encode("latin-1", "replace").decode("latin-1")
    return "".join(c if ord(c) in fonts.cover or c in "\n\t" else "?" for c in text)


def render_pdf(doc: Document, font: Path | None) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(doc.title)
    fonts = _load_fonts(pdf, font)
    pdf.add_page()
    pdf.set_font(fonts.bold, "B", 22)
    _cell(pdf, _clean(doc.title, fonts), 10)
    pdf.ln(4)
    for block in doc.blocks:
        _block(pdf, block, fonts)
    if fonts.cover is None:
        log.info("PDF rendered with Latin-1 core fonts", extra={"title": doc.title[:80]})
    return bytes(pdf.output())


def _block(pdf: FPDF, block: Block, fonts: Fonts) -> None:
    text = _clean(block.text, fonts)
    if block.kind == "heading":
        pdf.ln(2)
        pdf.set_font(fonts.bold, "B", HEADING_SIZES.get(block.level, 12))
        _cell(pdf, text, 8)
        pdf.ln(1)
    elif block.kind in ("bullet", "number"):
        pdf.set_font(fonts.body, "", BODY_SIZE)
        bullet = "•" if fonts.cover is not None and ord("•") in fonts.cover else "-"
        marker = block.marker if block.kind == "number" else bullet
        indent = INDENT_MM * block.level
        pdf.set_x(pdf.l_margin + indent - 5)
        pdf.cell(5, 6, marker)
        pdf.multi_cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    elif block.kind == "code":
        pdf.set_font(fonts.mono, "", CODE_SIZE)
        pdf.set_fill_color(240, 240, 240)
        pdf.multi_cell(0, 4.5, text, fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    elif block.kind == "rule":
        y = pdf.get_y() + 2
        pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
        pdf.ln(5)
    else:
        pdf.set_font(fonts.body, "", BODY_SIZE)
        pdf.set_x(pdf.l_margin + INDENT_MM * block.level)
        _cell(pdf, text, 6)
        pdf.ln(2)


def _cell(pdf: FPDF, text: str, height: float) -> None:
    pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
