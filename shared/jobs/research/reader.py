"""Reading a source: fetch one web page with httpx, bounded in time and size, and keep its text.

Only http(s) URLs; unless settings.research_allow_private_urls, a host that resolves to a private,
loopback, link-local or otherwise non-public address is refused (the metadata server is not a source),
and redirects are followed by hand (at most MAX_REDIRECTS) so each target is checked the same way.
HTML is turned into text simply: the head, title, scripts, styles and tags dropped, entities decoded,
whitespace folded.
A page that cannot be read yields None: the report then uses the search snippet instead.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import re
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

log = logging.getLogger("jobs.research.reader")

MAX_REDIRECTS = 3
TEXT_TYPES = ("text/html", "text/plain", "application/xhtml+xml", "text/markdown")
_DROP = re.compile(r"<(head|title|script|style|noscript|template|svg)\b.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    text: str


def clip(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes (never inside a character)."""
    return text.encode()[:max_bytes].decode(errors="ignore")


def html_text(body: str) -> tuple[str, str]:
    """(title, text) of an HTML page."""
    found = _TITLE.search(body)
    title = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", found.group(1)))).strip() if found else ""
    body = _COMMENT.sub(" ", _DROP.sub(" ", body))
    return title, _SPACE.sub(" ", html.unescape(_TAG.sub(" ", body))).strip()


class PageReader:
    def __init__(self, timeout_s: float, max_bytes: int, allow_private: bool = False) -> None:
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._allow_private = allow_private

    async def read(self, url: str) -> Page | None:
        try:
            return await asyncio.wait_for(self._read(url), self._timeout_s)
        except Exception as exc:  # a source that cannot be read is skipped, never a failed step
            log.info("source not read", extra={"url": url, "error": type(exc).__name__})
            return None

    async def _read(self, url: str) -> Page | None:
        async with httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                if not await self._allowed(url):
                    log.info("source refused", extra={"url": url})
                    return None
                async with client.stream("GET", url, headers={"Accept": "text/html, text/plain"}) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        return None
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind and kind not in TEXT_TYPES:
                        return None
                    body = await self._body(response)
                return self._page(url, body, response.encoding or "utf-8", kind)
        return None

    async def _body(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= self._max_bytes:
                break
        return b"".join(chunks)[: self._max_bytes]

    def _page(self, url: str, body: bytes, encoding: str, kind: str) -> Page:
        text = body.decode(encoding, errors="replace")
        if kind in ("text/plain", "text/markdown"):
            return Page(url, "", _SPACE.sub(" ", text).strip())
        title, plain = html_text(text)
        return Page(url, title, plain)

    async def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        if self._allow_private:
            return True
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        addresses = {str(info[4][0]) for info in infos}
        return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses)
