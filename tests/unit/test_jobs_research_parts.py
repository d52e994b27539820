"""Pure parts of research jobs (query parsing, page text, the prompt bound that prices the hold, source
picking) and the search adapters and page reader against a local HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from shared.adapters.secrets import EnvSecrets
from shared.gateway.search import (
    BraveSearch,
    ExaSearch,
    SearchFailed,
    TavilySearch,
    ValyuSearch,
    search_provider,
)
from shared.jobs.research import prompts
from shared.jobs.research.addresses import SystemResolver
from shared.jobs.research.html_text import html_text
from shared.jobs.research.job import _pick_sources
from shared.jobs.research.reader import PageReader, clip
from shared.settings import Settings
from tests.support.servers import ServerThread


def test_queries_start_with_the_question_and_drop_bullets_and_repeats() -> None:
    plan = '1. tides moon\n- Tides Moon\n* ocean gravity\n\n"spring tides"\n2) neap tides\nextra'
    assert prompts.queries_from_plan("why tides", plan, 4) == [
        "why tides",
        "tides moon",
        "ocean gravity",
        "spring tides",
    ]
    assert prompts.queries_from_plan("q", "", 4) == ["q"]


def test_html_text_keeps_the_words_only() -> None:
    page = (
        "<html><head><title>A &amp; B</title><style>p{}</style></head><body><script>x()</script>"
        "<header>Top</header><p>One&nbsp;two</p><!-- hidden --><svg><text>no</text></svg></body></html>"
    )
    assert html_text(page) == ("A & B", "Top One two")


def test_clip_never_cuts_a_character() -> None:
    assert clip("aé€", 4) == "aé"
    assert clip("abc", 10) == "abc"


def test_the_report_bound_covers_the_largest_prompt() -> None:
    sources = [
        {"n": n, "title": "T" * 1000, "url": "https://x/" + "u" * 1000, "text": clip("€" * 5000, 3000)}
        for n in range(1, 11)
    ]
    question = "é" * 2000
    largest = prompts.tokens_bound(prompts.report_messages(question, sources))
    assert prompts.report_bound(question, 10, 3000) >= largest


def test_sources_are_picked_round_robin_once_each() -> None:
    a = [{"url": "1"}, {"url": "2"}, {"url": "3"}]
    b = [{"url": "2"}, {"url": "4"}]
    assert [s["url"] for s in _pick_sources([a, b], 3)] == ["1", "2", "4"]
    assert [s["url"] for s in _pick_sources([a, b], 10)] == ["1", "2", "4", "3"]
    assert _pick_sources([], 3) == []


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.status = 200

    async def handle(self, request: Request) -> Response:
        body = await request.json() if request.method == "POST" else dict(request.query_params)
        self.requests.append((request.url.path, dict(request.headers), body))
        if self.status != 200:
            return JSONResponse({"error": "no"}, self.status)
        hit = {"title": "T", "url": "https://example.com/a"}
        if request.url.path.endswith("/web/search"):
            return JSONResponse({"web": {"results": [{**hit, "description": "brave"}]}})
        return JSONResponse({"results": [{**hit, "content": "c", "text": "exa"}, {"title": "no url"}]})

    async def page(self, request: Request) -> Response:
        if request.path_params["name"] == "big":
            return HTMLResponse("<p>" + "x" * 50_000 + "</p>")
        if request.path_params["name"] == "hop":
            return Response(status_code=302, headers={"location": "/page/ok"})
        if request.path_params["name"] == "binary":
            return Response(b"\x00\x01", media_type="application/octet-stream")
        return HTMLResponse("<title>Ok</title><p>fine</p>")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    app = Starlette(
        routes=[
            Route("/search", recorder.handle, methods=["POST"]),
            Route("/web/search", recorder.handle, methods=["GET"]),
            Route("/page/{name}", recorder.page, methods=["GET"]),
        ]
    )
    with ServerThread(app) as running:
        yield running.url, recorder


@pytest.mark.parametrize(
    ("adapter", "header", "snippet"),
    [
        (TavilySearch, ("authorization", "Bearer k"), "c"),
        (ExaSearch, ("x-api-key", "k"), "exa"),
        (ValyuSearch, ("x-api-key", "k"), "c"),
        (BraveSearch, ("x-subscription-token", "k"), "brave"),
    ],
)
def test_each_search_adapter_speaks_its_providers_shape(
    server: tuple[str, Recorder], adapter: type[TavilySearch], header: tuple[str, str], snippet: str
) -> None:
    base, recorder = server
    recorder.status = 200
    hits = asyncio.run(adapter("k", base, 5).search("tides", 3))
    assert [(h.title, h.url, h.snippet) for h in hits] == [("T", "https://example.com/a", snippet)]
    _, headers, body = recorder.requests[-1]
    assert headers[header[0]] == header[1]
    assert "tides" in str(body)


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (503, True), (401, False), (400, False)])
def test_search_failures_say_whether_to_retry(
    server: tuple[str, Recorder], status: int, retryable: bool
) -> None:
    base, recorder = server
    recorder.status = status
    with pytest.raises(SearchFailed) as caught:
        asyncio.run(TavilySearch("k", base, 5).search("q", 3))
    assert caught.value.retryable is retryable
    recorder.status = 200


def test_no_key_means_no_search_provider() -> None:
    assert search_provider(Settings(search_provider="exa"), EnvSecrets({})) is None
    found = search_provider(Settings(search_provider="exa"), EnvSecrets({"EXA_API_KEY": "k"}))
    assert isinstance(found, ExaSearch)


def test_the_reader_is_bounded_and_refuses_private_addresses(server: tuple[str, Recorder]) -> None:
    base, _ = server

    async def run() -> None:
        local = PageReader(5, 1000, SystemResolver(), allow_private=True)
        big = await local.read(f"{base}/page/big")
        assert big is not None and len(big.text) <= 1000
        hop = await local.read(f"{base}/page/hop")
        assert hop is not None and (hop.title, hop.text, hop.url) == ("Ok", "fine", f"{base}/page/ok")
        assert await local.read(f"{base}/page/binary") is None
        assert await local.read("file:///etc/passwd") is None
        assert await local.read("http://[not-a-host/") is None
        strict = PageReader(5, 1000, SystemResolver())
        for url in (f"{base}/page/ok", "http://169.254.169.254/computeMetadata/v1/", "http://[::1]/"):
            assert await strict.read(url) is None

    asyncio.run(run())
