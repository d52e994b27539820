"""An HTML page's title and words, in bounded time whatever the page holds.

Regular expressions that look for a closing tag rescan the rest of the page from every opening one, so a
page of nothing but `<svg>` or `<` took seconds to minutes. The standard library's tokenizer walks the
page once; it is fed in small pieces and stops at a deadline, because on some malformed input (long
unterminated tags or comments, CVE-2025-6069 on older Pythons) each piece rescans what is still pending.
A page cut short by the deadline keeps the words read so far. Call it from a worker thread: it is CPU work.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

# Elements whose content is not prose: dropped with everything inside them.
SKIPPED = frozenset({"head", "title", "script", "style", "noscript", "template", "svg"})
CHUNK = 8192
DEFAULT_BUDGET_S = 0.5
_SPACE = re.compile(r"\s+")


class _OutOfTime(Exception):
    """The deadline passed while the page was being read."""


class _TextParser(HTMLParser):
    def __init__(self, deadline: float) -> None:
        super().__init__(convert_charrefs=True)
        self._deadline = deadline
        self._open: list[str] = []  # the skipped elements we are inside, innermost last
        self._in_title = False
        self._seen_title = False
        self.title: list[str] = []
        self.words: list[str] = []

    def check_time(self) -> None:
        if time.monotonic() > self._deadline:
            raise _OutOfTime

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.check_time()
        if tag == "body":  # `</head>` may be left out: the body closes it
            self._open = [t for t in self._open if t not in ("head", "title")]
            self._in_title = False
        if tag == "title" and not self._seen_title and "svg" not in self._open:
            self._in_title = self._seen_title = True
        if tag in SKIPPED:
            self._open.append(tag)
        self.words.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.check_time()  # `<svg/>` opens nothing
        self.words.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.check_time()
        if tag == "title":
            self._in_title = False
        if tag in self._open:
            while self._open.pop() != tag:
                pass
        self.words.append(" ")

    def handle_data(self, data: str) -> None:
        self.check_time()
        if self._in_title:
            self.title.append(data)
        if not self._open:
            self.words.append(data)


def fold(text: str) -> str:
    """Runs of whitespace as one space, none at the ends."""
    return _SPACE.sub(" ", text).strip()


def html_text(body: str, budget_s: float = DEFAULT_BUDGET_S) -> tuple[str, str]:
    """(title, text) of an HTML page: tags, comments and non-prose elements dropped, entities decoded."""
    parser = _TextParser(time.monotonic() + budget_s)
    try:
        for start in range(0, len(body), CHUNK):
            parser.feed(body[start : start + CHUNK])
            parser.check_time()
        parser.close()
    except _OutOfTime:
        pass
    except AssertionError:  # html.parser's answer to some malformed declarations: keep what was read
        pass
    return fold("".join(parser.title)), fold("".join(parser.words))
