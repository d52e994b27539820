"""multipart/form-data parsing (shared/files/multipart.py): binary parts come back byte for byte."""

from __future__ import annotations

import httpx
import pytest

from shared.files.multipart import BadForm, parse_form


def _encode(files: dict[str, tuple[str, bytes]], data: dict[str, str]) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.headers["content-type"], request.read()


def test_binary_file_and_field_round_trip() -> None:
    payload = bytes(range(256)) * 4 + b"\r\n--\r\n\r\n"
    content_type, body = _encode({"file": ('a "b".pdf', payload)}, {"purpose": "assistants"})
    form = parse_form(content_type, body)
    assert form["file"].content == payload and form["file"].filename == 'a "b".pdf'
    assert form["purpose"].content == b"assistants" and form["purpose"].filename is None


def test_malformed_forms_are_400() -> None:
    with pytest.raises(BadForm):
        parse_form("application/json", b"{}")
    with pytest.raises(BadForm):
        parse_form("multipart/form-data", b"")
    with pytest.raises(BadForm):
        parse_form("multipart/form-data; boundary=xyz", b"--xyz\r\nno end")
    with pytest.raises(BadForm):
        parse_form("multipart/form-data; boundary=xyz", b"--xyz\r\nX: y\r\n\r\nbody\r\n--xyz--\r\n")
