"""The scripted fake provider (tests/fakes/provider.py) served by uvicorn in its own process.

`python -m bench.fake_server --port 8123 [--reply-limit 16]`; OpenAI-compatible at http://127.0.0.1:PORT/v1.
"""

from __future__ import annotations

import argparse

import uvicorn

from bench.sized_server import listener
from tests.fakes.provider import Call, FakeProvider


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reply-limit", type=int, default=16, help="most words in one answer")
    parser.add_argument("--sndbuf", type=int, help="fixed send buffer per connection, bytes")
    args = parser.parse_args()
    provider = FakeProvider(base_url=f"http://127.0.0.1:{args.port}/v1", reply_limit=args.reply_limit)
    # The provider keeps a record of every call for tests; a benchmark makes thousands, so drop them.
    provider.calls = _Discard()
    config = uvicorn.Config(
        provider.app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, lifespan="off"
    )
    sockets = [listener(args.port, args.sndbuf)] if args.sndbuf else None
    uvicorn.Server(config).run(sockets=sockets)


class _Discard(list[Call]):
    """A list that forgets what is appended, so a long run does not grow the fake's memory."""

    def append(self, _item: Call) -> None:
        return None


if __name__ == "__main__":
    main()
