"""What the fake provider does wrong on one request (tests/fakes/provider.py): scripted faults, the legacy
fault models' faults, and the `[[fault:...]]` directive a request can carry in its last user message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OVERLOADED_BODY = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@dataclass(frozen=True)
class Fault:
    """What a provider does wrong on one request."""

    kind: str  # "status", "hang" (before the first byte), "late", "slow", "cut", "stall"
    status: int = 0
    retry_after: float | None = None
    body: dict[str, Any] | None = None
    after: int = 0  # chunks sent before a cut or stall
    delay: float = 0.05  # between chunks of a slow stream; before the answer of a late one

    @classmethod
    def http(cls, status: int, retry_after: float | None = None, body: dict[str, Any] | None = None) -> Fault:
        return cls("status", status=status, retry_after=retry_after, body=body)

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> Fault:
        return cls.http(429, retry_after, {"error": {"message": "slow down", "type": "rate_limit"}})

    @classmethod
    def overloaded(cls) -> Fault:
        """Anthropic's 529 with its overloaded_error body."""
        return cls.http(529, None, OVERLOADED_BODY)

    @classmethod
    def late(cls, seconds: float) -> Fault:
        """The answer (whole, or a stream's first byte) comes after `seconds`, then as usual."""
        return cls("late", delay=seconds)

    @classmethod
    def hang(cls) -> Fault:
        return cls("hang")

    @classmethod
    def slow(cls, delay: float = 0.05) -> Fault:
        return cls("slow", delay=delay)

    @classmethod
    def cut(cls, after: int = 3) -> Fault:
        return cls("cut", after=after)

    @classmethod
    def stall(cls, after: int = 3) -> Fault:
        return cls("stall", after=after)

    @classmethod
    def parse(cls, text: str) -> Fault:
        """`429 retry_after=2`, `529`, `hang`, `slow delay=0.1`, `cut after=3`, `stall after=2`."""
        kind, *options = text.split()
        opts = dict(o.split("=", 1) for o in options)
        if kind.isdigit():
            ra = float(opts["retry_after"]) if "retry_after" in opts else None
            return cls.overloaded() if kind == "529" else cls.http(int(kind), ra)
        return cls(kind, after=int(opts.get("after", 3)), delay=float(opts.get("delay", 0.05)))


LEGACY_FAULTS = {
    "fake-500": Fault.http(500, body={"error": {"message": "boom", "type": "server_error"}}),
    "fake-429": Fault.rate_limited(1),
    "fake-hang": Fault.hang(),
    "fake-cut": Fault.cut(5),
    "fake-stall": Fault.stall(3),
    "fake-slow": Fault.slow(),
}
DIRECTIVE = re.compile(r"\[\[fault:([^\]]+)\]\]")
