"""A format-neutral document (a title and a list of blocks) built from markdown or from a thread's
messages; the PDF and DOCX renderers draw the same blocks.

Markdown is parsed with markdown-it-py (CommonMark) into simple formatting: headings, paragraphs,
bulleted and numbered list items (with their depth), code blocks, block quotes (as paragraphs) and
rules. Inline formatting becomes plain text; a link becomes `text (url)`, an image its alt text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # markdown-it is imported by the first export (jobs), not at the API's start-up
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

BlockKind = Literal["heading", "paragraph", "bullet", "number", "code", "rule"]


@cache
def _md() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


# Characters no XML document (DOCX) may hold, and lone surrogates no UTF-8 file can: dropped.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def plain(text: str) -> str:
    return _UNWRITABLE.sub("", text)


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str = ""
    level: int = 0  # a heading's level (1-6), or a list item's depth (1 = top level)
    marker: str = ""  # a numbered item's number, e.g. "3."


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)


def from_markdown(text: str) -> list[Block]:
    blocks: list[Block] = []
    lists: list[list[Any]] = []  # open lists: [kind, next number]
    item: tuple[str, int, str] | None = None  # the list item whose first paragraph is next
    heading = 0
    for token in _md().parse(plain(text)):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = token.attrGet("start")
            lists.append(["bullet" if kind == "bullet_list_open" else "number", int(start or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open" and lists:
            top = lists[-1]
            item = (top[0], len(lists), f"{top[1]}." if top[0] == "number" else "")
            if top[0] == "number":
                top[1] += 1
        elif kind == "heading_open":
            heading = int(token.tag[1:])
        elif kind == "inline":
            content = inline_text(token.children or [])
            if heading:
                blocks.append(Block("heading", content, heading))
                heading = 0
            elif item is not None:
                blocks.append(Block("bullet" if item[0] == "bullet" else "number", content, item[1], item[2]))
                item = None
            else:
                blocks.append(Block("paragraph", content, len(lists)))
        elif kind in ("fence", "code_block"):
            blocks.append(Block("code", token.content.rstrip("\n")))
        elif kind == "html_block":
            blocks.append(Block("paragraph", token.content.strip()))
        elif kind == "hr":
            blocks.append(Block("rule"))
    return [b for b in blocks if b.text or b.kind == "rule"]


def inline_text(children: Sequence[Token]) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []  # open links: (href, where their text starts)
    for child in children:
        if child.type in ("text", "code_inline", "html_inline"):
            out.append(child.content)
        elif child.type == "softbreak":
            out.append(" ")
        elif child.type == "hardbreak":
            out.append("\n")
        elif child.type == "image":
            out.append(child.content or str(child.attrGet("alt") or ""))
        elif child.type == "link_open":
            links.append((str(child.attrGet("href") or ""), len(out)))
        elif child.type == "link_close" and links:
            href, at = links.pop()
            label = "".join(out[at:])
            if href and href != label and not href.startswith("#"):
                out.append(f" ({href})")
    return "".join(out).strip()


def from_thread(title: str, messages: Sequence[dict[str, Any]]) -> Document:
    """A conversation: each message under a heading naming who wrote it."""
    doc = Document(plain(title))
    for message in messages:
        role = str(message.get("role", ""))
        who = "You" if role == "user" else "Assistant" if role == "assistant" else role.capitalize()
        if role == "assistant" and message.get("model"):
            who = f"{who} ({message['model']})"
        doc.blocks.append(Block("heading", plain(who), 2))
        doc.blocks.extend(from_markdown(_text_of(message.get("content"))))
    return doc


def _text_of(content: Any) -> str:
    """A stored message's text: a thread message with image parts (shared/chat/thread_content.py) shows
    its text parts, and each image as `[image]` (the PDF carries no pictures)."""
    if isinstance(content, list):
        return "\n\n".join(
            str(p.get("text") or "") if p.get("type") == "text" else "[image]"
            for p in content
            if isinstance(p, dict)
        )
    return "" if content is None else str(content)
