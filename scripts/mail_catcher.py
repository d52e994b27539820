"""A local mail catcher: an SMTP server that keeps every message it receives in memory, and a small HTTP
page that lists them with their links (`make run` prints its address; the tests read it too).

    python -m scripts.mail_catcher --smtp-port 2525 --http-port 8025

GET /            the messages, newest first, links clickable
GET /messages    the same as JSON: [{"to", "subject", "text", "links", "received_at"}]; `?to=` filters
DELETE /messages forget them all

It speaks just enough SMTP for a client sending mail (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
plain text only, on 127.0.0.1: a development tool, not a mail server. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import json
import re
import threading
from dataclasses import asdict, dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LINK = re.compile(r"https?://[^\s<>\"']+")
MAX_LINE = 1 << 20
MAX_MESSAGE = 10 << 20
KEEP = 500


@dataclass
class Caught:
    to: list[str]
    subject: str
    text: str
    links: list[str]
    received_at: str


@dataclass
class Inbox:
    messages: list[Caught] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, recipients: list[str], raw: bytes) -> None:
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        caught = Caught(
            to=recipients,
            subject=str(parsed.get("Subject", "")),
            text=text,
            links=LINK.findall(text),
            received_at=dt.datetime.now(dt.UTC).isoformat(),
        )
        with self.lock:
            self.messages.append(caught)
            del self.messages[:-KEEP]
        print(f"caught: {caught.subject!r} to {', '.join(recipients)}", flush=True)

    def listing(self, to: str | None = None) -> list[Caught]:
        with self.lock:
            found = [m for m in self.messages if to is None or to.lower() in (r.lower() for r in m.to)]
        return list(reversed(found))

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


def _address(arg: str) -> str:
    """`TO:<a@b.c>` or `FROM:<a@b.c> SIZE=1` -> a@b.c"""
    value = arg.partition(":")[2].strip()
    if value.startswith("<"):
        value = value[1 : value.find(">")] if ">" in value else value[1:]
    return value.split()[0] if value.split() else ""


async def smtp_session(inbox: Inbox, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async def reply(line: str) -> None:
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    recipients: list[str] = []
    await reply("220 mail-catcher ESMTP")
    try:
        while line := await reader.readuntil(b"\n"):
            command, _, arg = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            verb = command.upper()
            if verb == "EHLO":
                await reply("250-mail-catcher\r\n250-8BITMIME\r\n250 SIZE " + str(MAX_MESSAGE))
            elif verb == "HELO":
                await reply("250 mail-catcher")
            elif verb == "MAIL":
                recipients = []
                await reply("250 OK")
            elif verb == "RCPT":
                recipients.append(_address(arg))
                await reply("250 OK")
            elif verb == "DATA":
                if not recipients:
                    await reply("503 RCPT first")
                    continue
                await reply("354 End data with <CR><LF>.<CR><LF>")
                inbox.add(recipients, await _data(reader))
                recipients = []
                await reply("250 OK: caught")
            elif verb in ("RSET", "NOOP"):
                recipients = [] if verb == "RSET" else recipients
                await reply("250 OK")
            elif verb == "QUIT":
                await reply("221 Bye")
                break
            else:
                await reply("502 Command not implemented")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def _data(reader: asyncio.StreamReader) -> bytes:
    lines: list[bytes] = []
    size = 0
    while True:
        line = await reader.readuntil(b"\n")
        if line.rstrip(b"\r\n") == b".":
            return b"".join(lines)
        size += len(line)
        if size > MAX_MESSAGE:
            raise ConnectionError("message too large")
        lines.append(line[1:] if line.startswith(b"..") else line)


def http_handler(inbox: Inbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            to = parse_qs(url.query).get("to", [None])[0]
            if url.path == "/messages":
                self._send(200, "application/json", json.dumps([asdict(m) for m in inbox.listing(to)]))
            elif url.path == "/":
                self._send(200, "text/html; charset=utf-8", _page(inbox.listing(to)))
            else:
                self._send(404, "text/plain", "not found")

        def do_DELETE(self) -> None:
            inbox.clear()
            self._send(204, "text/plain", "")

        def _send(self, status: int, kind: str, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def _page(messages: list[Caught]) -> str:
    def linked(text: str) -> str:
        escaped = html.escape(text)
        return LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)

    items = "".join(
        f"<article><h3>{html.escape(m.subject)}</h3><p>to {html.escape(', '.join(m.to))} at "
        f"{m.received_at}</p><pre>{linked(m.text)}</pre></article>"
        for m in messages
    )
    return (
        "<!doctype html><meta charset=utf-8><title>Mail catcher</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}pre{white-space:pre-wrap}"
        "article{border-bottom:1px solid #ccc}</style>"
        f"<h1>Mail catcher</h1><p>{len(messages)} message(s); reload to see new ones.</p>"
        f"{items or '<p>Nothing caught yet.</p>'}"
    )


async def serve(smtp_port: int, http_port: int) -> None:
    inbox = Inbox()
    web = ThreadingHTTPServer(("127.0.0.1", http_port), http_handler(inbox))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    server = await asyncio.start_server(
        lambda r, w: smtp_session(inbox, r, w), "127.0.0.1", smtp_port, limit=MAX_LINE
    )
    print(f"mail catcher: SMTP 127.0.0.1:{smtp_port}, messages at http://127.0.0.1:{http_port}/", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.smtp_port, args.http_port))


if __name__ == "__main__":
    main()
