"""What the token counter makes of content parts that are not text: an estimate, never a fetch.

litellm's counter would size an image by downloading it (an https URL from a client, fetched from our
servers before any check) and has no rule for audio or files, so the prompt is counted as its text parts
only, plus an estimate per part: `image_input_tokens` per image (a catalog field, see
shared/catalog/catalog.py DEFAULT_IMAGE_TOKENS), audio at AUDIO_TOKENS_PER_KB of decoded bytes and files at
FILE_TOKENS_PER_KB. The hold counts this estimate; settling uses the provider's reported usage.
"""

from __future__ import annotations

from typing import Any

from shared.catalog.catalog import ModelSpec

# Gemini counts 32 tokens per second of audio, OpenAI's audio models about 10; at 128 kbit/s (16 KB a
# second, compressed) that is 2 tokens per KB; uncompressed 16 kHz WAV (32 KB/s) is half that.
AUDIO_TOKENS_PER_KB = 2
# A PDF page is 1,500 to 3,000 tokens of text (plus its picture at some providers) and typically 50 to
# 100 KB: about 30 tokens per KB.
FILE_TOKENS_PER_KB = 30


def base64_bytes(data: str) -> int:
    """The decoded size of base64 `data` (or of a `data:` URL's payload), from its length alone."""
    payload = data.partition(";base64,")[2] if data.startswith("data:") else data
    padding = 2 if payload.endswith("==") else 1 if payload.endswith("=") else 0
    return max(0, len(payload) // 4 * 3 - padding)


def part_tokens(spec: ModelSpec, part: dict[str, Any]) -> int:
    """The estimated prompt tokens of one non-text part (0 for text and unknown parts)."""
    kind = part.get("type")
    if kind == "image_url":
        return spec.image_input_tokens
    if kind == "input_audio":
        data = (part.get("input_audio") or {}).get("data") or ""
        return -(-base64_bytes(str(data)) * AUDIO_TOKENS_PER_KB // 1024)
    if kind == "file":
        file = part.get("file") or {}
        data = file.get("file_data")
        return -(-base64_bytes(str(data)) * FILE_TOKENS_PER_KB // 1024) if data else spec.image_input_tokens
    return 0


def split_media(spec: ModelSpec, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The messages with only their text parts (for litellm's counter), and the other parts' estimate."""
    out: list[dict[str, Any]] = []
    extra = 0
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list) or all(_is_text(p) for p in content):
            out.append(message)
            continue
        texts = [p for p in content if _is_text(p)]
        extra += sum(part_tokens(spec, p) for p in content if isinstance(p, dict) and not _is_text(p))
        out.append({**message, "content": texts or ""})
    return out, extra


def has_media(messages: list[dict[str, Any]]) -> bool:
    """Whether any message carries a part that is not text (an image, audio, a file)."""
    return any(
        isinstance(m.get("content"), list) and not all(_is_text(p) for p in m["content"]) for m in messages
    )


def sniff_image(head: bytes) -> str | None:
    """The image format (png, jpeg, gif, webp) its first bytes say, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _is_text(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "text"
