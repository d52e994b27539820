"""Content parts beyond text: images, audio and files in chat messages, checked before anything is reserved.

OpenAI's shapes, passed to the provider unchanged once checked:
  {"type": "image_url", "image_url": {"url": "https://..." | "data:image/png;base64,...", "detail": ...}}
  {"type": "input_audio", "input_audio": {"data": "<base64>", "format": "wav" | "mp3"}}
  {"type": "file", "file": {"file_data": "data:application/pdf;base64,...", "filename": "..."}}
  {"type": "file", "file": {"file_id": "file-..."}}  (a provider's own file id)

An https image URL is handed to the provider, which fetches it; we never do, so no http:// or other scheme
(a plain-HTTP URL would make litellm fetch it from our servers for some providers, and so would a `file_id`
that is a URL: both are refused). A `data:` URL or base64 payload is decoded piece by piece (never a
second whole copy) to check that it is valid base64 within the size limit, and an image's first bytes
must be a PNG, JPEG, GIF or WEBP that matches its declared type: the provider would refuse anything
else only after the hold is taken, or worse, charge for the attempt.

Which models accept which parts is the catalog's `capabilities` (`images`, `audio_in`, `files`); a
request that needs one the model lacks is refused with `images_not_supported`, `audio_not_supported` or
`files_not_supported`, before anything is reserved.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.errors import BadRequest
from shared.gateway.parts import sniff_image
from shared.settings import Settings

TEXT = "text"
IMAGE = "image_url"
AUDIO = "input_audio"
FILE = "file"
PART_TYPES = (TEXT, IMAGE, AUDIO, FILE)
# The capability each kind of part needs (shared/chat/capabilities.py refuses a model without it).
CAPABILITY = {IMAGE: "images", AUDIO: "audio_in", FILE: "files"}
IMAGE_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
AUDIO_FORMATS = ("wav", "mp3")
DETAILS = ("auto", "low", "high")
_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(?:;[\w.+-]+=[\w.+-]+)*);base64,", re.ASCII
)
# Decoded a slice at a time: a multiple of 4 base64 characters, so every slice decodes on its own.
_SLICE = 64 * 1024


@dataclass(frozen=True)
class ContentLimits:
    max_images: int
    max_image_bytes: int
    max_attachments: int
    max_attachment_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ContentLimits:
        return cls(
            settings.max_images_per_request,
            settings.max_image_bytes,
            settings.max_attachments_per_request,
            settings.max_attachment_bytes,
        )


@dataclass(frozen=True)
class Media:
    """What a request carries beyond text: the hold counts it (shared/gateway/parts.py estimates tokens)."""

    images: int = 0
    audio: int = 0
    files: int = 0

    @property
    def needs(self) -> frozenset[str]:
        """The capabilities a model must have to take these parts."""
        counts = {"images": self.images, "audio_in": self.audio, "files": self.files}
        return frozenset(name for name, count in counts.items() if count)


def inspect(messages: Iterable[Any], limits: ContentLimits) -> Media:
    """Check every content part of `messages` (ChatMessage objects) and count the media; raises 400."""
    images = audio = files = 0
    for index, message in enumerate(messages):
        content = message.content
        if not isinstance(content, list):  # text, or no content (an assistant's tool calls)
            continue
        for number, part in enumerate(content):
            where = f"messages[{index}].content[{number}]"
            data = part.model_dump(exclude_none=True)
            kind = data.get("type")
            if kind == TEXT:
                if not isinstance(data.get("text"), str):
                    raise _bad(f"{where} is a text part without text.", "invalid_content")
                continue
            if kind not in CAPABILITY:
                raise _bad(
                    f"{where} has type '{kind}'; content parts may be {', '.join(PART_TYPES)}.",
                    "unsupported_content",
                )
            if message.role != "user":
                raise _bad(f"{where}: only user messages may carry {kind} parts.", "invalid_content")
            if kind == IMAGE:
                _check_image(data.get(IMAGE), where, limits)
                images += 1
            elif kind == AUDIO:
                _check_audio(data.get(AUDIO), where, limits)
                audio += 1
            else:
                _check_file(data.get(FILE), where, limits)
                files += 1
    if images > limits.max_images:
        raise _bad(
            f"The request has {images} images; at most {limits.max_images} are allowed.", "too_many_images"
        )
    if audio + files > limits.max_attachments:
        raise _bad(
            f"The request has {audio + files} audio and file parts; at most {limits.max_attachments} are "
            "allowed.",
            "too_many_attachments",
        )
    return Media(images, audio, files)


def _check_image(value: Any, where: str, limits: ContentLimits) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("url"), str):
        raise _bad(f'{where}.image_url must be an object with a "url".', "invalid_image")
    detail = value.get("detail")
    if detail is not None and detail not in DETAILS:
        raise _bad(f"{where}.image_url.detail must be one of {', '.join(DETAILS)}.", "invalid_image")
    url: str = value["url"]
    if url.startswith("https://"):
        if len(url) > 8192 or any(c.isspace() for c in url):
            raise _bad(f"{where}.image_url.url is not a valid https URL.", "invalid_image")
        return
    if not url.startswith("data:"):
        raise _bad(
            f"{where}.image_url.url must be an https:// URL or a data: URL (base64); "
            f"'{url.split(':', 1)[0][:16]}' is not accepted.",
            "invalid_image_url",
        )
    mime, head = _data_url(url, f"{where}.image_url.url", limits.max_image_bytes, "image_too_large")
    declared = IMAGE_TYPES.get(mime.lower())
    if declared is None:
        raise _bad(
            f"{where}.image_url.url declares '{mime}'; images may be PNG, JPEG, GIF or WEBP.", "invalid_image"
        )
    sniffed = sniff_image(head)
    if sniffed is None:
        raise _bad(f"{where}.image_url.url does not hold a PNG, JPEG, GIF or WEBP image.", "invalid_image")
    if sniffed != declared:
        raise _bad(
            f"{where}.image_url.url is declared as {mime} but holds a {sniffed.upper()} image.",
            "invalid_image",
        )


def _check_audio(value: Any, where: str, limits: ContentLimits) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("data"), str):
        raise _bad(
            f'{where}.input_audio must be an object with base64 "data" and a "format".', "invalid_audio"
        )
    if value.get("format") not in AUDIO_FORMATS:
        raise _bad(f"{where}.input_audio.format must be one of {', '.join(AUDIO_FORMATS)}.", "invalid_audio")
    _base64(value["data"], f"{where}.input_audio.data", limits.max_attachment_bytes, "audio_too_large")


def _check_file(value: Any, where: str, limits: ContentLimits) -> None:
    if not isinstance(value, dict):
        raise _bad(f'{where}.file must be an object with "file_data" or "file_id".', "invalid_file")
    file_data, file_id = value.get("file_data"), value.get("file_id")
    if isinstance(file_data, str) and file_id is None:
        _data_url(file_data, f"{where}.file.file_data", limits.max_attachment_bytes, "file_too_large")
        return
    if isinstance(file_id, str) and file_data is None and 0 < len(file_id) <= 256:
        if re.match(r"^(https?:|www\.|[a-z][a-z0-9+.-]*://)", file_id, re.IGNORECASE):
            raise _bad(
                f"{where}.file.file_id is a URL; send the file as file_data (a data: URL).", "invalid_file"
            )
        return
    raise _bad(f'{where}.file needs exactly one of "file_data" (a data: URL) or "file_id".', "invalid_file")


def _data_url(url: str, where: str, max_bytes: int, too_large: str) -> tuple[str, bytes]:
    """The declared media type and the first decoded bytes of a base64 `data:` URL, once all of it checks."""
    match = _DATA_URL.match(url)
    if match is None:
        raise _bad(f"{where} is not a base64 data: URL (data:<type>;base64,<data>).", "invalid_data_url")
    head = _base64(url, where, max_bytes, too_large, offset=match.end())
    return match.group("mime"), head


def _base64(text: str, where: str, max_bytes: int, too_large: str, offset: int = 0) -> bytes:
    """Check that text[offset:] is strict base64 of at most `max_bytes` bytes, a slice at a time (no second
    whole copy); return its first decoded bytes. The size is known from the length before any decoding."""
    size = len(text) - offset
    padding = 2 if text.endswith("==") else 1 if text.endswith("=") else 0
    decoded = max(0, size // 4 * 3 - padding)
    if decoded > max_bytes:
        raise _bad(f"{where} decodes to about {decoded} bytes; at most {max_bytes} are allowed.", too_large)
    if size == 0 or size % 4:
        raise _bad(f"{where} is not valid base64.", "invalid_base64")
    head = b""
    for start in range(offset, offset + size, _SLICE):
        piece = text[start : start + _SLICE]
        last = start + _SLICE >= offset + size
        try:
            if not last and "=" in piece:  # padding is only allowed at the very end
                raise ValueError("padding inside the data")
            chunk = binascii.a2b_base64(piece, strict_mode=True)
        except (binascii.Error, ValueError):
            raise _bad(f"{where} is not valid base64.", "invalid_base64") from None
        if not head:
            head = chunk[:16]
    return head


def _bad(message: str, code: str) -> BadRequest:
    return BadRequest(message, code=code)
