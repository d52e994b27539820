"""Reading a source: fetch one web page with httpx, bounded in time and size, and keep its text.

Only http(s) URLs. Each hop (the URL, then each redirect, at most MAX_REDIRECTS, followed by hand) resolves
its host once through the injected resolver; unless settings.research_allow_private_urls, every address
it resolves to must be public (addresses.is_public), and the request is then sent to that checked
address itself: the URL's host is replaced by the IP while the Host header and TLS (SNI and certificate
check, through httpcore's `sni_hostname` request extension) keep the name. httpx never resolves the name
again, so a DNS answer that changes between the check and the connection (rebinding) cannot reach a
private address. Proxies from the environment are ignored (trust_env=False): they would connect instead.
A fresh client per hop keeps a connection opened for one name from being reused for another.
HTML is turned into text by html_text.html_text in a worker thread, within a time budget.
A page that cannot be read yields None: the report then uses the search snippet instead.
The same guarded fetch serves images for a chat provider that needs an image's bytes instead of its URL
(`fetch_image`, used by shared/gateway/inline.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urljoin

import anyio
import httpx

from shared.jobs.research.addresses import Resolver, connect_form, is_public, parse
from shared.jobs.research.html_text import DEFAULT_BUDGET_S, fold, html_text

log = logging.getLogger("jobs.research.reader")

MAX_REDIRECTS = 3
TEXT_TYPES = ("text/html", "text/plain", "application/xhtml+xml", "text/markdown")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    text: str


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    body: bytes
    encoding: str
    kind: str  # the media type the server declared ("" when none)


class Refused(Exception):
    """The URL's scheme or one of its host's addresses is not one the reader may fetch."""


def clip(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes (never inside a character)."""
    return text.encode()[:max_bytes].decode(errors="ignore")


class PageReader:
    def __init__(
        self,
        timeout_s: float,
        max_bytes: int,
        resolver: Resolver,
        allow_private: bool = False,
        parse_budget_s: float = DEFAULT_BUDGET_S,
    ) -> None:
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._resolver = resolver
        self._allow_private = allow_private
        self._parse_budget_s = parse_budget_s

    async def read(self, url: str) -> Page | None:
        try:
            return await asyncio.wait_for(self._read(url), self._timeout_s)
        except Refused as exc:
            log.info("source refused", extra={"url": url, "reason": str(exc)})
            return None
        except Exception as exc:  # a source that cannot be read is skipped, never a failed step
            log.info("source not read", extra={"url": url, "error": type(exc).__name__})
            return None

    async def fetch_image(self, url: str, max_bytes: int) -> bytes | None:
        """The image at `url` (an https URL a client sent), fetched like a page: every hop's addresses
        checked, within the timeout; None when it cannot be fetched, is not an image type or is larger
        than `max_bytes`."""
        try:
            accept = "image/png, image/jpeg, image/gif, image/webp"
            fetched = await asyncio.wait_for(
                self._fetch(url, accept, IMAGE_TYPES, max_bytes + 1), self._timeout_s
            )
        except Refused as exc:
            log.info("image refused", extra={"url": url[:300], "reason": str(exc)})
            return None
        except Exception as exc:
            log.info("image not fetched", extra={"url": url[:300], "error": type(exc).__name__})
            return None
        if fetched is None or len(fetched.body) > max_bytes:
            return None
        return fetched.body

    async def _read(self, url: str) -> Page | None:
        fetched = await self._fetch(url, "text/html, text/plain", TEXT_TYPES, self._max_bytes)
        if fetched is None:
            return None
        return await self._page(fetched.url, fetched.body, fetched.encoding, fetched.kind)

    async def _fetch(self, url: str, accept: str, kinds: tuple[str, ...], max_bytes: int) -> Fetched | None:
        """GET `url` through at most MAX_REDIRECTS checked hops: the body (cut at `max_bytes`) when the
        answer is a 200 of one of `kinds` (or of no declared type), else None."""
        for _ in range(MAX_REDIRECTS + 1):
            target = httpx.URL(url)
            addresses = await self._addresses(target)
            async with httpx.AsyncClient(timeout=self._timeout_s, trust_env=False) as client:
                response = await self._send(client, target, addresses, accept)
                try:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        return None
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind and kind not in kinds:
                        return None
                    body = await self._body(response, max_bytes)
                finally:
                    await response.aclose()
            return Fetched(url, body, response.encoding or "utf-8", kind)
        return None

    async def _addresses(self, target: httpx.URL) -> list[str]:
        """The addresses to connect to for `target`, resolved once and (unless allowed) all public."""
        if target.scheme not in ("http", "https") or not target.host:
            raise Refused("not an http(s) URL")
        port = target.port or (443 if target.scheme == "https" else 80)
        literal = parse(target.host)
        found = [target.host] if literal else await self._resolver.resolve(target.raw_host.decode(), port)
        if not found:
            raise Refused("no address")
        if not self._allow_private:
            for address in found:
                parsed = parse(address)
                if parsed is None or not is_public(parsed):
                    raise Refused(f"{address} is not a public address")
        return found

    async def _send(
        self, client: httpx.AsyncClient, target: httpx.URL, addresses: list[str], accept: str
    ) -> httpx.Response:
        """GET `target` from the first of `addresses` that accepts a connection (a stream to read)."""
        extensions: dict[str, str] = {}
        if target.scheme == "https" and parse(target.host) is None:
            extensions["sni_hostname"] = target.raw_host.decode()
        headers = {"Host": target.netloc.decode(), "Accept": accept}
        failure: httpx.ConnectError | None = None
        for address in addresses:
            pinned = target.copy_with(host=connect_form(address))
            request = client.build_request("GET", pinned, headers=headers, extensions=extensions)
            try:
                return await client.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def _body(self, response: httpx.Response, max_bytes: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= max_bytes:
                break
        return b"".join(chunks)[:max_bytes]

    async def _page(self, url: str, body: bytes, encoding: str, kind: str) -> Page:
        text = body.decode(encoding, errors="replace")
        if kind in ("text/plain", "text/markdown"):
            return Page(url, "", fold(text))
        title, plain = await anyio.to_thread.run_sync(html_text, text, self._parse_budget_s)
        return Page(url, title, plain)
