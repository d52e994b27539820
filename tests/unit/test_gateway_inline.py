"""Images for providers that need their bytes (Gemini, Vertex): fetched by the research reader's guarded
fetcher (public addresses only, every hop checked, bounded), checked to be images, sent as data: URLs; other
providers get the URL unchanged, and an image that cannot be fetched is a 400."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest
from httpcore._backends.auto import AutoBackend
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.catalog.catalog import Deployment
from shared.errors import BadRequest
from shared.gateway.inline import ImageInliner, remote_images
from shared.jobs.research.reader import PageReader
from tests.support.servers import ServerThread

PUBLIC = "93.184.216.34"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
GEMINI = Deployment("g@gemini#0", "g", "gemini", "gemini/gemini-2.5-flash")
VERTEX = Deployment("v@vertex#0", "v", "vertex", "vertex_ai/gemini-2.5-flash")
OPENAI = Deployment("o@openai#0", "o", "openai", "openai/gpt-4o-mini")


class Fetcher:
    def __init__(self, answers: dict[str, bytes | None]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def fetch_image(self, url: str, max_bytes: int) -> bytes | None:
        self.asked.append(url)
        return self.answers.get(url)


def asking(*urls: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "compare"}]
    parts += [{"type": "image_url", "image_url": {"url": url, "detail": "low"}} for url in urls]
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": parts}]


def test_gemini_and_vertex_get_the_bytes_fetched_once_per_url() -> None:
    url = "https://images.example.com/a.png"
    fetcher = Fetcher({url: PNG})
    inliner = ImageInliner(fetcher, 1000)
    for deployment in (GEMINI, VERTEX):
        sent = asyncio.run(inliner.prepare(deployment, asking(url, url)))
        parts = sent[1]["content"]
        expected = "data:image/png;base64," + base64.b64encode(PNG).decode()
        assert [p["image_url"] for p in parts[1:]] == [{"url": expected, "detail": "low"}] * 2
        assert sent[0] == {"role": "system", "content": "be brief"} and parts[0]["type"] == "text"
    assert fetcher.asked == [url, url]  # once per call, not once per part


def test_other_providers_and_data_urls_are_left_alone() -> None:
    fetcher = Fetcher({})
    inliner = ImageInliner(fetcher, 1000)
    messages = asking("https://images.example.com/a.png")
    assert asyncio.run(inliner.prepare(OPENAI, messages)) is messages
    inline = asking("data:image/png;base64," + base64.b64encode(PNG).decode())
    assert asyncio.run(inliner.prepare(GEMINI, inline)) is inline
    assert fetcher.asked == [] and remote_images(inline) == []


@pytest.mark.parametrize(("body", "code"), [(None, "image_unreachable"), (b"<html>", "invalid_image")])
def test_an_image_that_cannot_be_used_is_a_400(body: bytes | None, code: str) -> None:
    url = "https://images.example.com/gone.png"
    with pytest.raises(BadRequest) as caught:
        asyncio.run(ImageInliner(Fetcher({url: body}), 1000).prepare(GEMINI, asking(url)))
    assert caught.value.code == code and url in caught.value.message
    with pytest.raises(BadRequest) as missing:
        asyncio.run(ImageInliner(None, 1000).prepare(GEMINI, asking(url)))
    assert missing.value.code == "image_unreachable" and "data: URL" in missing.value.message


class Images:
    async def image(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name == "cat.png":
            return Response(PNG, media_type="image/png")
        if name == "big.png":
            return Response(PNG + bytes(5000), media_type="image/png")
        if name == "page.png":
            return Response(b"<html></html>", media_type="text/html")
        if name == "inside.png":  # a redirect to a private address
            return Response(status_code=302, headers={"location": "http://127.0.0.1:9/secret.png"})
        return Response(status_code=404)


class Resolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        return [PUBLIC]


@pytest.fixture(scope="module")
def site() -> Iterator[int]:
    with ServerThread(Starlette(routes=[Route("/{name}", Images().image)])) as running:
        yield running.port


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """PUBLIC is delivered to the local test server; every address connected to is noted."""
    opened: list[str] = []
    connect = AutoBackend.connect_tcp

    async def connect_tcp(
        self: AutoBackend, host: str, port: int, **kwargs: Any
    ) -> httpcore.AsyncNetworkStream:
        opened.append(host)
        return await connect(self, "127.0.0.1" if host == PUBLIC else host, port, **kwargs)

    monkeypatch.setattr(AutoBackend, "connect_tcp", connect_tcp)
    return opened


def test_the_guarded_fetcher_reads_images_and_refuses_the_rest(site: int, network: list[str]) -> None:
    reader = PageReader(5, 10_000, Resolver())

    def fetch(name: str) -> bytes | None:
        return asyncio.run(reader.fetch_image(f"http://images.test:{site}/{name}", 1000))

    assert fetch("cat.png") == PNG
    assert fetch("big.png") is None  # larger than the limit
    assert fetch("page.png") is None  # not an image type
    assert fetch("missing.png") is None
    assert fetch("inside.png") is None  # the redirect's private address is refused before connecting
    assert set(network) == {PUBLIC}
