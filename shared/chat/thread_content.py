"""What a thread message may hold (issue 17, item 4): text, or content parts that are text and images.

Image parts are the ones chat completions accept and are checked the same way (shared/chat/content.py:
https or base64 `data:` URLs, PNG/JPEG/GIF/WEBP matching the declared type, within the size and count
limits) before anything is reserved. They are stored with the message, as sent: a thread message is one
Firestore document (1 MiB at most), so its content may take settings.thread_message_max_bytes as JSON and
a larger one is refused with 413 `message_too_large` (an https URL is stored as the URL, whatever the
image's size). The history replays the parts to the model as they were sent, so the model must take
images (`needs`) as long as the replayed messages hold any."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import anyio

from shared.chat.content import IMAGE, TEXT, ContentLimits, inspect
from shared.chat.schemas import ChatMessage, ContentPart
from shared.errors import AppError, BadRequest
from shared.settings import Settings

THREAD_PARTS = (TEXT, IMAGE)
MAX_PARTS = 32


class MessageTooLarge(AppError):
    status = 413
    type = "invalid_request_error"
    code = "message_too_large"


async def user_content(content: str | list[ContentPart], settings: Settings) -> tuple[Any, frozenset[str]]:
    """The content to store and send (text, or the parts as plain dicts) and the capabilities it needs;
    raises 400 (empty, a part threads do not take, a bad image) or 413 before anything is reserved."""
    if isinstance(content, str):
        if not content.strip():
            raise BadRequest("The message content is empty.", code="empty_message")
        return content, frozenset()
    if not content or len(content) > MAX_PARTS:
        raise BadRequest(f"A message has 1 to {MAX_PARTS} content parts.", code="invalid_content")
    for number, part in enumerate(content):
        if part.type not in THREAD_PARTS:
            raise BadRequest(
                f"content[{number}] has type '{part.type}'; a thread message may hold text and image_url "
                "parts (send audio and files through /v1/chat/completions).",
                code="unsupported_content",
            )
    text = "".join(part.text or "" for part in content if part.type == TEXT)
    if not text.strip() and not any(part.type == IMAGE for part in content):
        raise BadRequest("The message content is empty.", code="empty_message")
    if len(text) > settings.max_message_chars:
        raise BadRequest(
            f"The message has {len(text)} characters of text; at most {settings.max_message_chars}.",
            code="message_too_long",
        )
    message = ChatMessage(role="user", content=content)
    # Decoding data: URLs takes milliseconds per megabyte: off the event loop.
    media = await anyio.to_thread.run_sync(inspect, [message], ContentLimits.from_settings(settings))
    parts = [part.model_dump(exclude_none=True) for part in content]
    size = len(json.dumps(parts, separators=(",", ":")).encode())
    if size > settings.thread_message_max_bytes:
        raise MessageTooLarge(
            f"The message takes {size} bytes with its images; a thread stores at most "
            f"{settings.thread_message_max_bytes} per message. Send a smaller image, or an https URL.",
        )
    return parts, media.needs


def history_needs(messages: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The capabilities replaying these stored messages needs: images, when any holds an image part."""
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == IMAGE for p in content):
            return frozenset({"images"})
    return frozenset()
