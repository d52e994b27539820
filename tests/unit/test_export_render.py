"""Export rendering without any service: markdown to blocks, blocks to PDF (opened with pdfium) and
DOCX (opened with python-docx), the export input and its price."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest
from pydantic import ValidationError

from shared.export.document import Block, Document, from_markdown, from_thread
from shared.export.schemas import ExportInput, ResearchSource, ThreadSource
from shared.export.to_docx import render_docx
from shared.export.to_pdf import SYSTEM_FONTS, find_font, render_pdf
from shared.jobs.export_job import export_price

MARKDOWN = """# Title

Text with *emphasis*, `code`, ![a chart](c.png) and [a link](https://example.com).

- one
- two
  1. nested one
  2. nested two

---

```
x = 1
```
"""

UNICODE = "Київ Ελληνικά 東京 ✓"


def test_markdown_becomes_simple_blocks() -> None:
    assert from_markdown(MARKDOWN) == [
        Block("heading", "Title", 1),
        Block("paragraph", "Text with emphasis, code, a chart and a link (https://example.com)."),
        Block("bullet", "one", 1),
        Block("bullet", "two", 1),
        Block("number", "nested one", 2, "1."),
        Block("number", "nested two", 2, "2."),
        Block("rule"),
        Block("code", "x = 1"),
    ]
    assert from_markdown("7. seven\n8. eight\n") == [
        Block("number", "seven", 1, "7."),
        Block("number", "eight", 1, "8."),
    ]


def test_a_thread_names_who_wrote_each_message() -> None:
    doc = from_thread(
        "Chat",
        [
            {"role": "user", "content": "Hi **there**"},
            {"role": "assistant", "content": "## Answer\n\nHello", "model": "gpt-x"},
        ],
    )
    assert doc.blocks == [
        Block("heading", "You", 2),
        Block("paragraph", "Hi there"),
        Block("heading", "Assistant (gpt-x)", 2),
        Block("heading", "Answer", 2),
        Block("paragraph", "Hello"),
    ]


def test_a_thread_message_with_an_image_exports_its_text_and_a_placeholder() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    doc = from_thread("Chat", [{"role": "user", "content": parts}])
    assert doc.blocks == [
        Block("heading", "You", 2),
        Block("paragraph", "What is this?"),
        Block("paragraph", "[image]"),
    ]


def page_text_and_ink(data: bytes) -> tuple[str, int]:
    pdf = pdfium.PdfDocument(data)
    page = pdf[0]
    text = page.get_textpage().get_text_range()
    image = page.render(scale=1).to_pil().convert("L")
    inked = sum(1 for value in image.getdata() if value < 200)
    pdf.close()
    return text, inked


def test_pdf_without_a_font_degrades_to_latin1_explicitly() -> None:
    doc = Document(f"Report {UNICODE}", from_markdown(f"{MARKDOWN}\n\n{UNICODE} café"))
    text, inked = page_text_and_ink(render_pdf(doc, None))
    assert inked > 1000
    assert "Title" in text and "a link (https://example.com)" in text and "x = 1" in text
    assert "café" in text and "Київ" not in text
    assert "???? ???????? ?? ?" in text  # every character outside Latin-1 is shown as "?"


@pytest.mark.skipif(find_font(None) is None, reason="no DejaVu Sans on this system")
def test_pdf_with_dejavu_draws_unicode() -> None:
    doc = Document("Report", from_markdown(f"{MARKDOWN}\n\n{UNICODE}"))
    text, inked = page_text_and_ink(render_pdf(doc, find_font(None)))
    assert inked > 1000
    assert "Київ Ελληνικά ?? ✓" in text  # DejaVu has no CJK glyphs: those become "?"
    assert "• one" in text and "2. nested two" in text


def test_a_configured_font_that_is_missing_falls_back(tmp_path: Path) -> None:
    system = next((p for p in SYSTEM_FONTS if p.is_file()), None)
    assert find_font(tmp_path / "nope.ttf") == system


def test_docx_has_the_title_headings_lists_and_code() -> None:
    doc = Document(f"Report {UNICODE}", from_markdown(MARKDOWN))
    document = docx.Document(io.BytesIO(render_docx(doc)))
    paragraphs = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert paragraphs == [
        ("Title", f"Report {UNICODE}"),
        ("Heading 1", "Title"),
        ("Normal", "Text with emphasis, code, a chart and a link (https://example.com)."),
        ("List Bullet", "one"),
        ("List Bullet", "two"),
        ("List Number 2", "nested one"),
        ("List Number 2", "nested two"),
        ("Normal", ""),
        ("Normal", "x = 1"),
    ]
    assert document.core_properties.title == f"Report {UNICODE}"
    assert document.paragraphs[-1].runs[0].font.name == "Courier New"


def test_export_input_takes_one_source_and_distinct_formats() -> None:
    assert isinstance(ExportInput.model_validate({"source": {"thread_id": "t1"}}).source, ThreadSource)
    spec = ExportInput.model_validate({"source": {"job_id": "j1"}, "formats": ["docx"]})
    assert isinstance(spec.source, ResearchSource) and spec.formats == ["docx"]
    assert ExportInput.model_validate({"source": {"thread_id": "t"}}).formats == ["pdf", "docx"]
    bad_inputs: list[dict[str, object]] = [
        {"source": {"thread_id": "t", "job_id": "j"}},
        {"source": {}},
        {"source": {"thread_id": "a/b"}},
        {"source": {"thread_id": "t"}, "formats": []},
        {"source": {"thread_id": "t"}, "formats": ["pdf", "pdf"]},
        {"source": {"thread_id": "t"}, "formats": ["txt"]},
    ]
    for bad in bad_inputs:
        with pytest.raises(ValidationError):
            ExportInput.model_validate(bad)


def test_export_price_comes_from_the_media_catalog(tmp_path: Path) -> None:
    path = tmp_path / "media.toml"
    path.write_text("[export]\nprice_per_format = 1234\n")
    assert export_price(path) == 1234
    path.write_text("[search]\nprice = 1\n")
    assert export_price(path) is None
    path.write_text("[export]\nprice_per_format = 0\n")
    with pytest.raises(ValueError):
        export_price(path)
    assert export_price(Path("shared/catalog/media.toml")) == 2000


def test_text_no_file_can_hold_is_dropped_not_fatal() -> None:
    hostile = "nul\x00 bell\x07 lone\ud800 ok ✓"
    doc = from_thread(hostile, [{"role": "user", "content": hostile}])
    assert doc.title == "nul bell lone ok ✓"
    assert doc.blocks[1] == Block("paragraph", "nul bell lone ok ✓")
    document = docx.Document(io.BytesIO(render_docx(doc)))
    assert document.paragraphs[-1].text == "nul bell lone ok ✓"
    for font in (None, find_font(None)):
        text, _ = page_text_and_ink(render_pdf(doc, font))
        assert "nul bell lone ok" in text
