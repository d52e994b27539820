"""The file type comes from the bytes (shared/files/sniff.py), and zip bombs are refused unopened."""

from __future__ import annotations

import io
import zipfile

import pytest

from shared.files.sniff import HEAD_BYTES, EmptyFile, UnsupportedFileType, sniff, sniff_stored
from tests.support.files import docx_bytes, zip_bomb


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "pdf"),
        (b"just some words\nand more", "txt"),
        (b"# Title\n\nSome *text* with a [link](https://example.com)\n", "md"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "html"),
        (b"name,age\nada,36\nalan,41\n", "csv"),
        (b'{"a": [1, 2]}', "json"),
        (b"[1, 2", "txt"),
        ("\ufeffBengali: \u0986\u09ae\u09bf".encode(), "txt"),
    ],
)
def test_text_and_pdf_kinds(data: bytes, kind: str) -> None:
    assert sniff(data).name == kind


def test_docx_is_a_zip_with_a_word_document() -> None:
    assert sniff(docx_bytes()).name == "docx"


def test_refusals() -> None:
    with pytest.raises(EmptyFile):
        sniff(b"")
    for bad in (b"\x89PNG\r\n\x1a\n" + bytes(20), b"MZ\x90\x00\x03", b"text\x00with a nul", b"\xff\xfe\x00a"):
        with pytest.raises(UnsupportedFileType):
            sniff(bad)
    with pytest.raises(UnsupportedFileType, match="zip bomb"):
        sniff(zip_bomb())
    with pytest.raises(UnsupportedFileType, match="not a Word document"):
        sniff(_zip_of("other.txt"))
    with pytest.raises(UnsupportedFileType, match="cannot be read"):
        sniff(b"PK\x03\x04" + bytes(40))


def _zip_of(name: str) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, "x")
    return out.getvalue()


def test_a_stored_object_is_sniffed_from_its_head() -> None:
    def never() -> io.BytesIO:
        raise AssertionError("only a zip is read whole")

    text = ("é" * HEAD_BYTES).encode()  # the head ends inside a two-byte character
    assert sniff_stored(text[:HEAD_BYTES], len(text), never).name == "txt"
    big_json = b'{"rows": [' + b"1, " * HEAD_BYTES + b"1]}"
    assert sniff_stored(big_json[:HEAD_BYTES], len(big_json), never).name == "json"
    assert sniff_stored(b'{"a": 1}', 8, never).name == "json"
    assert sniff_stored(b"%PDF-1.7\n", 10_000_000, never).name == "pdf"
    with pytest.raises(EmptyFile):
        sniff_stored(b"", 0, never)
    binary = b"abc\x00def" * 20_000
    with pytest.raises(UnsupportedFileType):
        sniff_stored(binary[:HEAD_BYTES], len(binary), never)


def test_a_stored_zip_is_read_through_its_seekable_view() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("padding.bin", bytes(200_000))  # the directory lies past the head
    data = out.getvalue()
    assert sniff_stored(data[:HEAD_BYTES], len(data), lambda: io.BytesIO(data)).name == "docx"
