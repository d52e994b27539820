"""Cutting a text into chunks of at most `size` tokens, each starting `size - overlap` tokens after the
one before (OpenAI's static strategy). `auto` is 800 tokens with 400 of overlap, as OpenAI's, but never
more than three quarters of what the embedding model reads in one input (our tokenizer is not the
model's: a BERT model's word pieces are more numerous), and an overlap of a quarter of that."""

from __future__ import annotations

from dataclasses import dataclass

from shared.gateway.tokenizer import text_encoding

AUTO_SIZE = 800
AUTO_OVERLAP = 400


@dataclass(frozen=True)
class Chunking:
    size: int
    overlap: int


def auto_chunking(model_max_tokens: int) -> Chunking:
    size = min(AUTO_SIZE, model_max_tokens * 3 // 4)
    overlap = AUTO_OVERLAP if size == AUTO_SIZE else size // 4
    return Chunking(size, overlap)


def fits(chunking: Chunking, model_max_tokens: int) -> bool:
    return chunking.size <= model_max_tokens


def count_tokens(text: str) -> int:
    return len(text_encoding().encode(text, disallowed_special=()))


def chunk_text(text: str, chunking: Chunking) -> list[tuple[str, int]]:
    """The chunks' texts and their token counts, in order."""
    encoding = text_encoding()
    tokens = encoding.encode(text, disallowed_special=())
    step = max(chunking.size - chunking.overlap, 1)
    chunks: list[tuple[str, int]] = []
    for start in range(0, len(tokens), step):
        piece = tokens[start : start + chunking.size]
        words = encoding.decode(piece).strip()
        if words:
            chunks.append((words, len(piece)))
        if start + chunking.size >= len(tokens):
            break
    return chunks


def embedded_tokens(text_tokens: int, chunking: Chunking) -> int:
    """How many tokens chunking a text of `text_tokens` tokens produces in all (the overlaps repeat)."""
    if text_tokens <= chunking.size:
        return text_tokens
    step = max(chunking.size - chunking.overlap, 1)
    chunks = -(-(text_tokens - chunking.overlap) // step)
    return chunks * chunking.size
