"""The pure parts of vector stores: chunking by tokens with overlap, BM25 and reciprocal rank fusion,
attribute filters, and text extraction from PDF (plain and encrypted), DOCX, HTML and plain text."""

from __future__ import annotations

import io

import docx
import pytest
from pypdf import PdfWriter

from shared.errors import BadRequest
from shared.knowledge.bm25 import Bm25, rrf, words
from shared.knowledge.chunking import Chunking, auto_chunking, chunk_text, count_tokens, embedded_tokens
from shared.knowledge.extract import MAX_PDF_PAGES, ExtractFailed, extract_text
from shared.knowledge.filters import check_filter, matches
from shared.knowledge.ingest import max_tokens_for
from tests.support.knowledge import encrypted, pdf_with


def test_chunks_overlap_and_cover_the_text() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    chunking = Chunking(50, 10)
    chunks = chunk_text(text, chunking)
    assert all(tokens <= 50 for _, tokens in chunks)
    assert chunks[0][0].startswith("word0") and "word399" in chunks[-1][0]
    # Each chunk starts 40 tokens after the one before, so neighbours share their edges.
    assert chunks[0][0].split()[-1] in chunks[1][0]
    total = count_tokens(text)
    assert sum(t for _, t in chunks) <= embedded_tokens(total, chunking)
    assert chunk_text("", chunking) == []
    assert chunk_text("short", chunking) == [("short", 1)]


def test_auto_chunking_fits_the_model() -> None:
    assert auto_chunking(8191) == Chunking(800, 400)
    small = auto_chunking(256)
    assert small.size == 192 and small.overlap == 48


def test_bm25_ranks_the_matching_text_first() -> None:
    texts = ["the cat sat on the mat", "dogs chase cats in the park", "stock markets fell sharply today"]
    index = Bm25(texts)
    assert index.top("markets today", 3)[0][0] == 2
    assert index.top("cat mat", 3)[0][0] == 0
    assert index.top("zebra", 3) == []
    assert words("The Cat, the HAT!") == ["cat", "hat"]
    assert words("বাংলা ভাষা") == ["বাংলা", "ভাষা"]


def test_rrf_scores_first_in_both_as_one() -> None:
    fused = rrf([["a", "b", "c"], ["a", "c"]])
    assert fused[0] == ("a", 1.0)
    assert [i for i, _ in fused] == ["a", "c", "b"]
    only_one = rrf([["x"], []])
    assert only_one == [("x", 0.5)]


def test_filters() -> None:
    attrs = {"lang": "en", "year": 2020, "draft": False}
    assert matches({"type": "eq", "key": "lang", "value": "en"}, attrs)
    assert not matches({"type": "eq", "key": "missing", "value": "en"}, attrs)
    assert matches({"type": "gte", "key": "year", "value": 2020}, attrs)
    assert not matches({"type": "gt", "key": "lang", "value": 1}, attrs)
    both = {
        "type": "and",
        "filters": [
            {"type": "eq", "key": "draft", "value": False},
            {"type": "in", "key": "lang", "value": ["en", "bn"]},
        ],
    }
    check_filter(both)
    assert matches(both, attrs)
    assert matches({"type": "or", "filters": [{"type": "ne", "key": "lang", "value": "en"}, both]}, attrs)
    for bad in (
        {"type": "eq", "key": "a"},
        {"type": "and", "filters": []},
        {"type": "like", "key": "a", "value": 1},
        [],
    ):
        with pytest.raises(BadRequest):
            check_filter(bad)
    deep: dict[str, object] = {"type": "eq", "key": "a", "value": 1}
    for _ in range(10):
        deep = {"type": "and", "filters": [deep]}
    with pytest.raises(BadRequest):
        check_filter(deep)


def test_extract_pdf_docx_html_and_text() -> None:
    assert "ellipses" in extract_text("pdf", pdf_with(["Orbits are ellipses."]), 10_000)
    with pytest.raises(ExtractFailed) as locked:
        extract_text("pdf", encrypted(pdf_with(["hidden"])), 10_000)
    assert locked.value.code == "file_encrypted"
    with pytest.raises(ExtractFailed) as blank:
        extract_text("pdf", pdf_with([]), 10_000)
    assert blank.value.code == "no_text"
    with pytest.raises(ExtractFailed) as broken:
        extract_text("pdf", b"%PDF-1.4 nothing else", 10_000)
    assert broken.value.code in ("unreadable_file", "no_text")
    document = docx.Document()
    document.add_paragraph("First paragraph.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "left", "right"
    out = io.BytesIO()
    document.save(out)
    assert extract_text("docx", out.getvalue(), 10_000) == "First paragraph.\nleft | right"
    html = b"<html><head><title>T</title><script>var x=1;</script></head>"
    html += b"<body><p>Hello <b>there</b></p></body></html>"
    assert extract_text("html", html, 10_000) == "Hello there"
    assert extract_text("md", b"# Title\n\n\n\n\nbody   text", 10_000) == "# Title\n\nbody text"
    assert extract_text("txt", b"abcdef", 3) == "abc"


def test_the_reservation_bound() -> None:
    assert max_tokens_for("txt", 1000, 10**6) == 1000
    assert max_tokens_for("pdf", 1000, 10**6) == 4000
    assert max_tokens_for("pdf", 10**7, 10**6) == 10**6


def test_a_pdf_of_too_many_pages_is_refused() -> None:
    writer = PdfWriter()
    for _ in range(MAX_PDF_PAGES + 1):
        writer.add_blank_page(width=72, height=72)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ExtractFailed) as refused:
        extract_text("pdf", out.getvalue(), 10_000)
    assert refused.value.code == "too_many_pages"


def test_rewrite_query_keeps_the_words_worth_searching() -> None:
    from shared.knowledge.rewrite import rewrite

    asked = "Can you tell me what the height of the main office building is?"
    assert rewrite(asked) == "height main office building"
    assert rewrite("I’d like to know about Kepler's laws, and Kepler's orbits") == "Kepler's laws orbits"
    assert rewrite("What is it?") == "What is it?"  # nothing would be left: searched as written
    assert rewrite("বাংলা প্রশ্ন কী?") == "বাংলা প্রশ্ন কী"  # other scripts keep their words whole
