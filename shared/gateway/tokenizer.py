"""The tokenizer chunking counts with: cl100k_base, from litellm's bundled copy (tiktoken alone would fetch
it from the network on first use). Providers' tokenizers differ; their reported counts are what is charged."""

from __future__ import annotations

from functools import cache
from typing import Protocol


class Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: tuple[str, ...] = ()) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...


@cache
def text_encoding() -> Encoding:
    from litellm.litellm_core_utils.default_encoding import encoding

    return encoding  # type: ignore[no-any-return]
