"""Cache keys, the cacheability rules, replaying a cached text, and the price of a hit."""

from __future__ import annotations

import math
from typing import Any

import pytest

from shared.cache.exact import replay_chunks
from shared.cache.keys import cache_key, cache_tenant, cacheable, decide, opted_in, storable
from shared.cache.pricing import cache_hit_credits
from shared.settings import Settings

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
]


def key(
    tenant: str = "w1",
    model: str = "gpt-4o-mini",
    messages: list[dict[str, Any]] | None = None,
    params: dict[str, Any] | None = None,
    max_tokens: int | None = 256,
) -> Any:
    return cache_key(tenant, model, messages or MESSAGES, params or {"temperature": 0}, max_tokens)


def test_the_same_request_gives_the_same_key() -> None:
    assert key() == key()
    assert key().redis_key.startswith("rc:w1:gpt-4o-mini:")
    assert len(key().digest) == 64


def test_equivalent_spellings_share_a_key() -> None:
    base = key(params={"temperature": 0, "stop": ["END"]})
    same = key(
        messages=[{"content": m["content"], "role": m["role"], "name": None} for m in MESSAGES],
        params={
            "stop": "END",
            "temperature": 0.0,
            "top_p": 1,
            "seed": None,
            "presence_penalty": 0,
            "user": "end-user-42",
            "stream": True,
        },
    )
    assert same.redis_key == base.redis_key


def test_defaults_are_explicit() -> None:
    # No temperature means the provider default (1.0), so it matches an explicit 1.0 and not 0.
    assert key(params={"top_p": 1}).digest == key(params={"temperature": 1.0}).digest
    assert key(params={"top_p": 1}).digest != key(params={"temperature": 0}).digest


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o"},
        {"max_tokens": 257},
        {"params": {"temperature": 0, "seed": 7}},
        {"params": {"temperature": 0, "stop": ["x"]}},
        {"messages": [MESSAGES[0], {"role": "user", "content": "What is the capital of France? "}]},
        {"messages": [MESSAGES[0], {"role": "user", "content": "what is the capital of France?"}]},
        {"messages": [{"role": "user", "content": MESSAGES[1]["content"]}]},
        {"messages": [*MESSAGES[:1], {**MESSAGES[1], "name": "bob"}]},
    ],
)
def test_anything_that_changes_the_answer_changes_the_key(change: dict[str, Any]) -> None:
    assert key(**change).digest != key().digest


def test_the_tenant_is_in_the_key_and_the_hash() -> None:
    a, b = key(tenant="w1"), key(tenant="w2")
    assert a.digest != b.digest
    assert a.redis_key.split(":")[1] == "w1"
    assert b.redis_key.split(":")[1] == "w2"
    # A separator inside an id cannot make two tenants' keys meet.
    tricky1 = cache_key("a:b", "c", MESSAGES, {"temperature": 0}, 1)
    tricky2 = cache_key("a", "b:c", MESSAGES, {"temperature": 0}, 1)
    assert tricky1.redis_key != tricky2.redis_key
    assert tricky1.redis_key.count(":") == 3


def test_an_empty_tenant_is_refused() -> None:
    with pytest.raises(ValueError):
        cache_key("", "m", MESSAGES, {}, 1)


def test_semantic_scope_covers_everything_but_the_last_user_message() -> None:
    other_question = key(messages=[MESSAGES[0], {"role": "user", "content": "And of Spain?"}])
    assert other_question.scope == key().scope
    assert other_question.digest != key().digest
    assert key().prompt == "What is the capital of France?"
    other_system = key(messages=[{"role": "system", "content": "Be verbose."}, MESSAGES[1]])
    assert other_system.scope != key().scope
    assert key(tenant="w2").scope != key().scope
    assert key(params={"temperature": 0, "seed": 1}).scope != key().scope
    ends_with_assistant = key(messages=[*MESSAGES, {"role": "assistant", "content": "Paris"}])
    assert ends_with_assistant.prompt is None


def test_temperature_zero_is_cacheable() -> None:
    assert cacheable({"temperature": 0}, False, None)
    assert decide({"temperature": 0.0}, False, None).reason == "deterministic"


def test_sampling_without_opt_in_is_not_cacheable() -> None:
    assert not cacheable({"temperature": 0.7}, False, None)
    assert not cacheable({}, False, None)  # absent means the default, 1
    decision = decide({"temperature": 0.7}, False, None)
    assert (decision.read, decision.write, decision.status) == (False, False, "bypass")


def test_an_explicit_opt_in_makes_sampling_cacheable() -> None:
    assert cacheable({"temperature": 0.7}, True, None)
    assert decide({"temperature": 0.7}, True, None).reason == "opt_in"
    assert opted_in("on") and opted_in(" ON ") and opted_in("true") and opted_in("1")
    assert not opted_in(None) and not opted_in("off") and not opted_in("")


def test_no_cache_skips_the_read_but_stores() -> None:
    for header in ("no-cache", "No-Cache", "max-age=0", "private, no-cache"):
        decision = decide({"temperature": 0}, False, header)
        assert (decision.read, decision.write) == (False, True), header
        assert not cacheable({"temperature": 0}, False, header)
    assert decide({"temperature": 0}, False, "no-cache").status == "bypass"
    assert decide({"temperature": 0}, False, "max-age=60").read


def test_no_store_neither_reads_nor_writes() -> None:
    decision = decide({"temperature": 0}, True, "no-cache, no-store")
    assert (decision.read, decision.write, decision.reason) == (False, False, "no-store")


@pytest.mark.parametrize(
    "params",
    [
        {"temperature": 0, "n": 2},
        {"temperature": 0, "tools": [{"type": "function", "function": {"name": "f"}}]},
        {"temperature": 0, "functions": [{"name": "f"}]},
    ],
)
def test_tools_and_several_choices_are_never_cacheable(params: dict[str, Any]) -> None:
    decision = decide(params, True, None)
    assert not decision.read and not decision.write


def test_only_complete_answers_are_stored() -> None:
    assert storable("ok", "stop", "Paris", limited_by_credits=False)
    assert storable("ok", "length", "Paris is", limited_by_credits=False)
    assert not storable("ok", "length", "Paris is", limited_by_credits=True)
    assert not storable("partial", "stop", "Par", limited_by_credits=False)
    assert not storable("cancelled", None, "Par", limited_by_credits=False)
    assert not storable("error", "error", "", limited_by_credits=False)
    assert not storable("ok", "content_filter", "…", limited_by_credits=False)
    assert not storable("ok", "stop", "", limited_by_credits=False)


@pytest.mark.parametrize(
    "text",
    [
        "Paris is the capital of France.",
        "  leading and trailing  ",
        "lines\n\nand\ttabs\n",
        "naïve café — 東京 🚀 ok",
        "x",
        "   ",
    ],
)
def test_replay_chunks_join_back_exactly(text: str) -> None:
    pieces = replay_chunks(text)
    assert "".join(pieces) == text
    assert all(pieces)
    # One word per piece: no piece has a word after whitespace.
    assert all(not piece.lstrip().split()[1:] for piece in pieces)


def test_replay_chunks_are_words() -> None:
    assert replay_chunks("Paris is  the\ncapital.") == ["Paris ", "is  ", "the\n", "capital."]
    assert replay_chunks(" hi") == [" ", "hi"]
    assert replay_chunks("") == []


def test_cache_hit_credits_round_up() -> None:
    assert cache_hit_credits(12_345, 0) == 0
    assert cache_hit_credits(12_345, 100) == 12_345
    assert cache_hit_credits(3, 50) == 2
    assert cache_hit_credits(1, 1) == 1
    assert cache_hit_credits(200, 10) == 20
    assert cache_hit_credits(0, 50) == 0
    assert cache_hit_credits(999, 33) == math.ceil(999 * 33 / 100)
    with pytest.raises(ValueError):
        cache_hit_credits(-1, 10)
    with pytest.raises(ValueError):
        cache_hit_credits(10, 101)


def test_settings_defaults() -> None:
    settings = Settings()
    assert settings.response_cache_ttl_s == 3600
    assert settings.cache_hit_price_percent == 0
    assert settings.semantic_cache_enabled is False
    assert settings.semantic_cache_threshold == 0.95


def test_the_cache_tenant_is_the_wallet_or_the_member_inside_a_workspace() -> None:
    """Personal wallets keep the key they always had; a workspace wallet's members are tenants of their own
    unless the workspace shares its cache (issue 11, item 12)."""
    assert cache_tenant("u1", "u1", None, shared=False) == "u1"
    assert cache_tenant("u1", "u1", None, shared=True) == "u1"
    assert cache_tenant("ws-w1", "u1", "w1", shared=False) == "ws-w1/u1"
    assert cache_tenant("ws-w1", "u2", "w1", shared=False) == "ws-w1/u2"
    assert cache_tenant("ws-w1", "u1", "w1", shared=True) == "ws-w1"
    one, two = (cache_key(cache_tenant("ws-w1", u, "w1", False), "m", MESSAGES, {}, 10) for u in ("u1", "u2"))
    assert one.redis_key != two.redis_key and one.scope != two.scope
    assert one.redis_key.startswith("rc:ws-w1%2Fu1:")
    with pytest.raises(ValueError):
        cache_tenant("ws-w1", "", "w1", shared=False)
