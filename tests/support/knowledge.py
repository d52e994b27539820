"""Helpers of the vector store tests: documents built in memory (a PDF with text, an encrypted one), the
chunks stored for a store or a file, waiting for a store's files, and the fake embedding's charge."""

from __future__ import annotations

import io
import time
from typing import Any

import openai
from fpdf import FPDF
from google.cloud.firestore_v1.base_query import FieldFilter
from pypdf import PdfReader, PdfWriter

from tests.fakes.embeddings import MAX_INPUTS, PRICE, reported_tokens
from tests.support.helpers import db


def pdf_with(lines: list[str]) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.multi_cell(0, 8, line)
    return bytes(pdf.output())


def encrypted(data: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def chunks_where(field: str, value: str) -> list[dict[str, Any]]:
    query = db().collection("chunks").where(filter=FieldFilter(field, "==", value))
    return sorted((s.to_dict() or {} for s in query.stream()), key=lambda c: (c["file_id"], c["index"]))


def store_files_of(store_id: str) -> list[dict[str, Any]]:
    return [
        s.to_dict() or {}
        for s in db().collection("vector_stores").document(store_id).collection("store_files").stream()
    ]


def wait_indexed(sdk: openai.OpenAI, store_id: str, files: int, timeout: float = 60) -> Any:
    """The store once `files` of its files finished (completed, failed or cancelled)."""
    deadline = time.monotonic() + timeout
    while True:
        store = sdk.vector_stores.retrieve(store_id)
        counts = store.file_counts
        if counts.completed + counts.failed + counts.cancelled >= files and not counts.in_progress:
            return store
        if time.monotonic() > deadline:
            raise AssertionError(f"store {store_id} never finished: {counts}")
        time.sleep(0.2)


def ingestion_cost(chunks: list[dict[str, Any]]) -> int:
    """What the fake embedding charges for a file's chunks: one call per MAX_INPUTS chunks, each the
    catalog price of the tokens the fake reports, rounded up."""
    texts = [c["text"] for c in sorted(chunks, key=lambda c: c["index"])]
    total = 0
    for start in range(0, len(texts), MAX_INPUTS):
        tokens = reported_tokens(texts[start : start + MAX_INPUTS])
        total += -(-tokens * PRICE // 1_000_000)
    return total


def query_cost(query: str) -> int:
    return -(-reported_tokens([query]) * PRICE // 1_000_000)
