"""Backpressure on streamed answers (issue 15, item 4): a slow reader pauses the provider stream, a reader
that stops is cut after STREAM_STALL_S and pays for what was produced.

The clients are raw sockets with a small receive buffer, so "the client reads nothing" is exact: the
bytes in flight are bounded by the socket buffers on the way, not by what the client chose to read.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from run_services.api.main import create_app
from shared.catalog.catalog import ModelSpec
from shared.settings import Settings
from tests.fakes.provider import INPUT_PRICE, OUTPUT_PRICE, Call, FakeProvider
from tests.support.helpers import User, balance, rid, usage_for, wait_settled
from tests.support.servers import ServerThread

PRICE = ModelSpec("fake-long", "fake", "openai/fake-long", INPUT_PRICE, OUTPUT_PRICE, 8192, 2048)
MESSAGES = [{"role": "user", "content": "tell me a long story"}]
WORDS = 30_000  # about 5 MB of events each way: far more than the socket buffers between us
RCVBUF = 4096
SNDBUF = 16384


def open_stream(base: str, user: User, request_id: str, max_tokens: int = WORDS) -> socket.socket:
    """Send a streamed chat request on a raw socket whose receive buffer is small, and read nothing."""
    url = urlsplit(base)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)  # before connect: the window follows it
    sock.connect((url.hostname or "127.0.0.1", url.port or 80))
    body = json.dumps(
        {"model": "fake-long", "messages": MESSAGES, "stream": True, "max_tokens": max_tokens}
    ).encode()
    head = {
        **user.headers,
        "X-Request-ID": request_id,
        "Host": url.netloc,
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
    }
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\n{lines}\r\n".encode() + body)
    return sock


def read_all(sock: socket.socket, timeout: float = 60) -> bytes:
    """Everything the server sends until it closes the connection or ends the chunked body."""
    sock.settimeout(timeout)
    out = bytearray()
    while not out.endswith(b"\r\n0\r\n\r\n"):
        part = sock.recv(65536)
        if not part:
            break
        out += part
    return bytes(out)


def events_of(raw: bytes) -> list[Any]:
    """The SSE events of a raw HTTP/1.1 response with a chunked body (uvicorn sends one event a chunk)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    body = bytearray()
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body += rest[:size]
        rest = rest[size + 2 :]
    found: list[Any] = []
    for line in bytes(body).decode().splitlines():
        if line.startswith("data: "):
            data = line[6:]
            found.append(data if data == "[DONE]" else json.loads(data))
    return found


def content_of(events: list[Any]) -> list[str]:
    return [
        e["choices"][0]["delta"]["content"]
        for e in events
        if isinstance(e, dict) and e.get("choices") and e["choices"][0]["delta"].get("content")
    ]


def the_call(fake: FakeProvider, before: int, timeout: float = 10) -> Call:
    deadline = time.monotonic() + timeout
    while len(fake.calls_for("fake-long")) <= before:
        assert time.monotonic() < deadline, "the provider was never called"
        time.sleep(0.02)
    return fake.calls_for("fake-long")[before]


def settled_count(call: Call, quiet_s: float = 1.0, timeout: float = 20) -> int:
    """The provider's chunk count once it has not moved for `quiet_s` (the stream is paused)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = call.chunks_sent
        if now != last:
            last, since = now, time.monotonic()
        elif now > 0 and time.monotonic() - since >= quiet_s:
            return now
        time.sleep(0.05)
    raise AssertionError(f"the provider stream never paused (at {call.chunks_sent} of {WORDS} chunks)")


@pytest.fixture(scope="module")
def paced(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FakeProvider, Settings]]:
    """A fake provider of its own whose connections have small send buffers, and settings whose catalog
    points at it: what the provider has sent and we have not read is bounded by a few socket buffers."""
    fake = FakeProvider()
    with ServerThread(fake.app, sndbuf=SNDBUF) as server:
        fake.base_url = f"{server.url}/v1"
        path = tmp_path_factory.mktemp("paced") / "models.toml"
        path.write_text(fake.catalog_toml())
        yield fake, settings.model_copy(update={"catalog_path": path})


@pytest.fixture(scope="module")
def paced_api(paced: tuple[FakeProvider, Settings]) -> Iterator[str]:
    """The API (the default stall limit, 30 s) on that provider, its connections' send buffers small too."""
    with ServerThread(create_app(paced[1]), sndbuf=SNDBUF) as server:
        yield server.url


@pytest.fixture(scope="module")
def stalling_api(paced: tuple[FakeProvider, Settings]) -> Iterator[str]:
    """The same with a stall limit of one second."""
    with ServerThread(
        create_app(paced[1].model_copy(update={"stream_stall_s": 1.0})), sndbuf=SNDBUF
    ) as server:
        yield server.url


def test_a_reader_that_reads_nothing_pauses_the_provider_stream(
    paced_api: str, paced: tuple[FakeProvider, Settings], client: httpx.Client, user: User
) -> None:
    """Nothing between the provider and the client buffers without bound: while the client reads nothing
    the provider's stream stops at what the socket buffers hold; read later, the answer is whole."""
    fake_provider = paced[0]
    request_id = rid()["X-Request-ID"]
    before_calls = len(fake_provider.calls_for("fake-long"))
    before = balance(client, user.headers)
    sock = open_stream(paced_api, user, request_id)
    try:
        call = the_call(fake_provider, before_calls)
        paused_at = settled_count(call)
        assert paused_at < WORDS // 2, f"{paused_at} of {WORDS} chunks pulled while the client read nothing"
        assert not call.finished and not call.disconnected
        raw = read_all(sock)
    finally:
        sock.close()
    events = events_of(raw)
    assert len(content_of(events)) == WORDS and events[-1] == "[DONE]"
    assert call.chunks_sent == WORDS and call.finished
    record = usage_for(request_id)
    assert record["outcome"] == "ok" and record["output_tokens"] == WORDS
    assert wait_settled(client, user.headers)["available"] == before["available"] - record["credits"]


def test_a_reader_that_stops_is_cut_and_pays_for_what_was_produced(
    stalling_api: str, paced: tuple[FakeProvider, Settings], client: httpx.Client, user: User
) -> None:
    fake_provider = paced[0]
    request_id = rid()["X-Request-ID"]
    before_calls = len(fake_provider.calls_for("fake-long"))
    before = balance(client, user.headers)
    sock = open_stream(stalling_api, user, request_id)
    try:
        call = the_call(fake_provider, before_calls)
        record = usage_for(request_id, timeout=20)  # written once the stall limit cut the stream
        deadline = time.monotonic() + 5
        while not call.disconnected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert call.disconnected, "the provider stream was not closed"
    finally:
        sock.close()
    assert record["outcome"] == "client_stalled"
    assert 0 < record["output_tokens"] < WORDS
    assert record["output_tokens"] <= call.chunks_sent + 1  # the last may be counted after it was taken
    assert not record["usage_reported"]  # counted from what reached us: the provider never said
    assert record["credits"] == PRICE.cost(record["input_tokens"], record["output_tokens"])
    assert record["credits"] < PRICE.cost(record["input_tokens"], WORDS)
    after = wait_settled(client, user.headers)
    assert after == {"available": before["available"] - record["credits"], "reserved": 0}
    usage_for(request_id)  # still exactly one record for the request
