"""The research reader's safety (issue 11, item 11): which addresses it may reach in any spelling, that it
connects to the address it checked (no second DNS answer: rebinding), that every redirect hop goes
through the same check, and that turning HTML into text takes bounded time off the event loop.

A fake network (httpcore's connect_tcp wrapped) records where each connection goes and delivers the one
public address the tests use, PUBLIC, to the local test server, so a page can be "public" and served."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx
import pytest
from httpcore._backends.auto import AutoBackend
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from shared.jobs.research import reader as reader_module
from shared.jobs.research.addresses import SystemResolver, is_public
from shared.jobs.research.html_text import html_text
from shared.jobs.research.reader import PageReader
from tests.support.servers import ServerThread

PUBLIC = "93.184.216.34"

REFUSED = [
    # IPv4: private, loopback, link-local (the metadata server), shared (CGNAT), multicast, reserved,
    # unspecified, broadcast, documentation, benchmarking, IETF protocol assignments.
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "127.8.8.8",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "192.0.0.8",
    # IPv6: loopback, unspecified, link-local (zoned too), ULA, site-local, multicast, documentation.
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fd00::1",
    "fc00::1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "2001:db8::1",
    # IPv6 carrying a private IPv4: mapped, compatible, NAT64 (well-known and local-use), 6to4, Teredo.
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "::10.0.0.1",
    "::169.254.169.254",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::10.1.2.3",
    "64:ff9b:1::7f00:1",
    "64:ff9b:1::808:808",
    "2002:7f00:1::",
    "2002:a00:1::1",
    "2002:a9fe:a9fe::",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:0:808:808::1",  # Teredo, even with a public server address
]

ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2620:0:2d0:200::7",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_global_addresses_are_refused_in_every_form(address: str) -> None:
    assert is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address)) is True


class Resolver:
    """A DNS server the test scripts: each name's answers in turn (the last one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


class Pages:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (path, Host header)
        self.target = ""

    async def page(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.seen.append((request.url.path, request.headers.get("host", "")))
        if name == "away":
            return Response(status_code=302, headers={"location": self.target})
        if name == "hop":
            return Response(status_code=301, headers={"location": "/page/ok"})
        if name == "heavy":
            return HTMLResponse("<script " * 60_000)
        return HTMLResponse("<title>Ok</title><p>fine</p>")


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[int, Pages]]:
    pages = Pages()
    with ServerThread(Starlette(routes=[Route("/page/{name}", pages.page)])) as running:
        yield running.port, pages


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host a connection is opened to; PUBLIC is delivered to 127.0.0.1 (the test server)."""
    opened: list[str] = []
    connect = AutoBackend.connect_tcp

    async def connect_tcp(
        self: AutoBackend, host: str, port: int, **kwargs: Any
    ) -> httpcore.AsyncNetworkStream:
        opened.append(host)
        return await connect(self, "127.0.0.1" if host == PUBLIC else host, port, **kwargs)

    monkeypatch.setattr(AutoBackend, "connect_tcp", connect_tcp)
    return opened


def test_the_request_goes_to_the_checked_address_not_to_a_second_dns_answer(
    site: tuple[int, Pages], network: list[str]
) -> None:
    port, pages = site
    resolver = Resolver({"rebind.test": [[PUBLIC], ["127.0.0.1"]]})
    page = asyncio.run(PageReader(5, 10_000, resolver).read(f"http://rebind.test:{port}/page/ok"))
    assert page is not None and (page.title, page.text) == ("Ok", "fine")
    assert resolver.asked == [("rebind.test", port)]  # resolved once
    assert network == [PUBLIC]  # and connected to what was checked, never to 127.0.0.1
    assert pages.seen[-1] == ("/page/ok", f"rebind.test:{port}")  # the Host header keeps the name


def test_the_system_resolver_is_asked_once_per_hop(
    site: tuple[int, Pages], network: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rebinding through getaddrinfo itself (what httpx would have asked a second time)."""
    port, _ = site
    answers = [PUBLIC, "127.0.0.1"]
    asked: list[str | bytes] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if host in ("rebind.test", b"rebind.test"):
            asked.append(host)
            address = answers.pop(0) if len(answers) > 1 else answers[0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    page = asyncio.run(PageReader(5, 10_000, SystemResolver()).read(f"http://rebind.test:{port}/page/ok"))
    assert page is not None and page.title == "Ok"
    assert len(asked) == 1 and network == [PUBLIC]


def test_https_connects_to_the_ip_while_tls_and_the_host_header_keep_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpcore verifies the certificate against the `sni_hostname` extension when there is one; each
    checked address is tried in turn when a connection fails."""
    sent: list[httpx.Request] = []

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        sent.append(request)
        raise httpx.ConnectError("no route", request=request)

    monkeypatch.setattr(httpx.AsyncClient, "send", send)
    name = "xn--bcher-kva.example"
    resolver = Resolver({name: [["2606:4700:4700::1111", "::ffff:93.184.216.34"]]})
    assert asyncio.run(PageReader(5, 1000, resolver).read("https://Bücher.example:8443/a?b=1")) is None
    assert resolver.asked == [(name, 8443)]
    assert [str(r.url) for r in sent] == [
        "https://[2606:4700:4700::1111]:8443/a?b=1",
        f"https://{PUBLIC}:8443/a?b=1",
    ]
    for request in sent:
        assert request.headers["host"] == f"{name}:8443" and request.extensions["sni_hostname"] == name


def test_a_host_with_any_private_address_is_refused_before_connecting(
    site: tuple[int, Pages], network: list[str]
) -> None:
    port, _ = site
    resolver = Resolver({"mixed.test": [[PUBLIC, "10.0.0.7"]], "mapped.test": [["::ffff:127.0.0.1"]]})
    reader = PageReader(5, 10_000, resolver)
    for url in (
        f"http://mixed.test:{port}/page/ok",
        f"http://mapped.test:{port}/page/ok",
        f"http://[::127.0.0.1]:{port}/page/ok",
        f"http://[64:ff9b::7f00:1]:{port}/page/ok",
        f"http://[2002:7f00:1::]:{port}/page/ok",
    ):
        assert asyncio.run(reader.read(url)) is None, url
    assert network == []


def test_every_redirect_hop_is_resolved_checked_and_pinned(
    site: tuple[int, Pages], network: list[str]
) -> None:
    port, pages = site
    resolver = Resolver({"start.test": [[PUBLIC]], "inside.test": [["10.1.2.3"]]})
    reader = PageReader(5, 10_000, resolver)
    hop = asyncio.run(reader.read(f"http://start.test:{port}/page/hop"))
    assert hop is not None and hop.url == f"http://start.test:{port}/page/ok"
    assert resolver.asked == [("start.test", port), ("start.test", port)] and network == [PUBLIC, PUBLIC]
    for target in (
        f"http://127.0.0.1:{port}/page/ok",
        f"http://inside.test:{port}/page/ok",
        "file:///etc/passwd",
    ):
        pages.target, before = target, len(pages.seen)
        assert asyncio.run(reader.read(f"http://start.test:{port}/page/away")) is None, target
        assert [path for path, _ in pages.seen[before:]] == ["/page/away"]  # the private hop is never asked


def test_private_urls_still_work_when_the_setting_allows_them(site: tuple[int, Pages]) -> None:
    port, pages = site
    resolver = Resolver({"local.test": [["127.0.0.1"]]})
    page = asyncio.run(
        PageReader(5, 10_000, resolver, allow_private=True).read(f"http://local.test:{port}/page/hop")
    )
    assert page is not None and page.text == "fine"
    assert pages.seen[-1] == ("/page/ok", f"local.test:{port}")


PATHOLOGICAL = {
    "40 KB of nested <svg>": "<svg>" * 8_000,
    "1 MB of <": "<" * 1_000_000,
    "unclosed tags": "<script " * 60_000,
    "unclosed comments": "<!--" * 100_000,
    "unclosed attribute": "<a b='" * 50_000,
    "nested svg with text": "<svg>x" * 50_000,
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_html_text_takes_bounded_time_on_pathological_pages(name: str) -> None:
    started = time.monotonic()
    html_text(PATHOLOGICAL[name], budget_s=0.25)
    assert time.monotonic() - started < 1.0


def test_html_text_of_ordinary_pages() -> None:
    # `</head>` left out; an svg's <title> is not the page's; nested skipped elements; a plain text page.
    page = (
        "<html><head><title>Page</title><body><svg><title>icon</title><svg>x</svg>y</svg>"
        "<p>A&lt;B</p> <b>c</b>d"
    )
    assert html_text(page) == ("Page", "A<B c d")
    assert html_text("no tags at all &amp; more") == ("", "no tags at all & more")


def test_the_page_is_parsed_off_the_event_loop(
    site: tuple[int, Pages], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heavy page is parsed in a worker thread, never on the event loop's own thread (asserted by
    thread identity rather than by the loop's pauses, which a loaded machine stretches)."""
    port, _ = site
    reader = PageReader(
        10, 500_000, Resolver({"heavy.test": [["127.0.0.1"]]}), allow_private=True, parse_budget_s=1
    )
    parsed_on: list[int] = []

    def parse(text: str, budget_s: float) -> tuple[str, str]:
        parsed_on.append(threading.get_ident())
        return html_text(text, budget_s)

    monkeypatch.setattr(reader_module, "html_text", parse)

    async def run() -> int:
        assert await reader.read(f"http://heavy.test:{port}/page/heavy") is not None
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    assert parsed_on and all(ident != loop_thread for ident in parsed_on)
