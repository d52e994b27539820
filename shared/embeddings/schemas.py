"""POST /v1/embeddings in OpenAI's shape: the request, and the answer with our credits and cost in `usage`.

`input` is a string or a list of strings. Token-id arrays (OpenAI also accepts them) parse here so the
service can refuse them with a clear 400 instead of a schema error: we meter, limit and route by text.
"""

from __future__ import annotations

import base64
import struct
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.catalog.catalog import usd
from shared.errors import BadRequest

__all__ = ["EmbeddingRequest", "EmbeddingResponse", "encode", "usd"]

MAX_USER_CHARS = 256


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(..., min_length=1, max_length=200, description="An embedding model's id.")
    input: str | list[str] | list[int] | list[list[int]] = Field(
        ..., description="The text to embed, or a list of texts (one vector each, in order)."
    )
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="`float`: lists of numbers; `base64`: little-endian float32 bytes, base64."
    )
    dimensions: int | None = Field(
        None, ge=1, description="Fewer dimensions, for models whose catalog entry allows it."
    )
    user: str | None = Field(None, max_length=MAX_USER_CHARS, description="Your end user's id.")

    def texts(self) -> list[str]:
        """The inputs as a list of strings; token ids and empty input are refused (400)."""
        items = [self.input] if isinstance(self.input, str) else list(self.input)
        if any(not isinstance(item, str) for item in items):
            raise BadRequest(
                "Token-id input is not supported; send the text (a string or a list of strings).",
                code="token_input_not_supported",
            )
        texts = [item for item in items if isinstance(item, str)]
        if not texts:
            raise BadRequest("`input` is empty: send at least one text.", code="empty_input")
        empty = next((i for i, text in enumerate(texts) if not text.strip()), None)
        if empty is not None:
            raise BadRequest(f"`input[{empty}]` is empty: every input needs text.", code="empty_input")
        return texts


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int
    credits: int = Field(..., description="Credits charged for this call (1 credit = 1 micro-USD).")
    cost: float = Field(..., description="The credits charged, in USD.")


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingUsage


def encode(vector: list[float], encoding_format: str) -> list[float] | str:
    """The vector as sent: floats, or OpenAI's base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector
