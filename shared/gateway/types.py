"""What the gateway returns: plain data, no provider SDK objects."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Usage:
    input_tokens: int
    output_tokens: int
    reported: bool  # False when estimated here because the provider never said (a cut stream)


@dataclass
class Completion:
    text: str
    finish_reason: str | None
    usage: Usage


@dataclass
class Delta:
    text: str
    finish_reason: str | None = None
