"""The `auto` model: easy requests go to a cheap model, hard ones to a strong model.

The rule lives in the catalog's `[auto]` table and is checked in this order; the first rule that
fires sends the request to `strong` and is named in the reason (X-Route-Reason), otherwise it goes
to `cheap` with the reason "easy":
  1. strong_keywords: the last user message contains one of them (case-insensitive, whole words
     or phrases), e.g. "prove", "step by step", "code";
  2. max_cheap_prompt_tokens: the whole prompt is longer than this many tokens;
  3. strong_if_system_prompt_longer_than: the system prompt alone is longer than this many tokens;
  4. strong_if_turns_over: the conversation has more user turns than this.
A rule left out of the table never fires. If the chosen model is not configured, the other one is
used (and the reason says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.catalog.catalog import Catalog, ModelSpec, UnknownModel

AUTO = "auto"


@dataclass(frozen=True)
class AutoRule:
    cheap: str
    strong: str
    max_cheap_prompt_tokens: int | None = None
    strong_keywords: tuple[str, ...] = ()
    strong_if_system_prompt_longer_than: int | None = None
    strong_if_turns_over: int | None = None
    _patterns: tuple[tuple[str, re.Pattern[str]], ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_config(cls, conf: dict[str, Any]) -> AutoRule | None:
        if not conf.get("cheap") or not conf.get("strong"):
            return None
        keywords = tuple(str(k).lower() for k in conf.get("strong_keywords", ()))
        patterns = tuple((k, re.compile(rf"(?<!\w){re.escape(k)}(?!\w)", re.IGNORECASE)) for k in keywords)
        return cls(
            cheap=str(conf["cheap"]),
            strong=str(conf["strong"]),
            max_cheap_prompt_tokens=_opt(conf.get("max_cheap_prompt_tokens")),
            strong_keywords=keywords,
            strong_if_system_prompt_longer_than=_opt(conf.get("strong_if_system_prompt_longer_than")),
            strong_if_turns_over=_opt(conf.get("strong_if_turns_over")),
            _patterns=patterns,
        )

    def classify(self, messages: list[dict[str, Any]], count: Callable[[str], int]) -> tuple[bool, str]:
        """(strong?, reason). `count` gives the tokens of a text."""
        users = [m for m in messages if m.get("role") == "user"]
        last_user = _text(users[-1]) if users else ""
        for keyword, pattern in self._patterns:
            if pattern.search(last_user):
                return True, f"keyword '{keyword}'"
        if self.max_cheap_prompt_tokens is not None:
            prompt = count("\n".join(_text(m) for m in messages))
            if prompt > self.max_cheap_prompt_tokens:
                return True, f"prompt of {prompt} tokens > {self.max_cheap_prompt_tokens}"
        if self.strong_if_system_prompt_longer_than is not None:
            system = "\n".join(_text(m) for m in messages if m.get("role") == "system")
            size = count(system) if system else 0
            if size > self.strong_if_system_prompt_longer_than:
                return True, f"system prompt of {size} tokens > {self.strong_if_system_prompt_longer_than}"
        if self.strong_if_turns_over is not None and len(users) > self.strong_if_turns_over:
            return True, f"{len(users)} user turns > {self.strong_if_turns_over}"
        return False, "easy"


@dataclass(frozen=True)
class AutoChoice:
    spec: ModelSpec
    reason: str  # e.g. "strong: keyword 'prove'" or "cheap: easy"


def choose(
    catalog: Catalog,
    messages: list[dict[str, Any]],
    count: Callable[[str], int],
    allowed: Callable[[str], bool] | None = None,
) -> AutoChoice:
    """The model `auto` sends these messages to, and why. `allowed` (the caller's plan) rules models out:
    the other tier serves when the chosen one is not allowed."""

    def usable(model: str) -> ModelSpec | None:
        spec = catalog.find(model)
        return spec if spec is not None and (allowed is None or allowed(spec.id)) else None

    rule = AutoRule.from_config(catalog.auto)
    if rule is None:
        raise UnknownModel("The 'auto' model is not configured ([auto] cheap and strong in the catalog).")
    strong, why = rule.classify(messages, count)
    first, second = (rule.strong, rule.cheap) if strong else (rule.cheap, rule.strong)
    tier = "strong" if strong else "cheap"
    spec = usable(first)
    if spec is not None:
        return AutoChoice(spec, f"{tier}: {why}")
    spec = usable(second)
    if spec is not None:
        return AutoChoice(spec, f"{tier}: {why}; {first} is not available, used {spec.id}")
    raise UnknownModel(
        f"The 'auto' model needs {rule.cheap} or {rule.strong} to be enabled; GET /v1/models lists them."
    )


def _text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _opt(value: Any) -> int | None:
    return None if value is None else int(value)
