"""The `auto` model's rule: cheap for easy requests, strong for hard ones, with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.adapters.secrets import EnvSecrets
from shared.catalog.catalog import Catalog, UnknownModel
from shared.gateway.auto import AutoRule, choose
from shared.settings import Settings

TOML = """
[providers.p]
api_base = "http://p.example/v1"
key = "P_KEY"
[providers.q]
api_base = "http://q.example/v1"
key = "Q_KEY"

[auto]
cheap = "small"
strong = "big"
max_cheap_prompt_tokens = 20
strong_keywords = ["prove", "step by step", "code"]
strong_if_system_prompt_longer_than = 8
strong_if_turns_over = 2

[[models]]
id = "small"
provider = "p"
litellm_model = "openai/small"
input_price = 1
output_price = 1
context_window = 100
max_output_tokens = 10

[[models]]
id = "big"
provider = "q"
litellm_model = "openai/big"
input_price = 9
output_price = 9
context_window = 100
max_output_tokens = 10
"""


def words(text: str) -> int:
    return len(text.split())


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    path = tmp_path / "auto.toml"
    path.write_text(TOML)
    return Catalog.load(Settings(), EnvSecrets({"P_KEY": "p", "Q_KEY": "q"}), path)


def test_easy_request_goes_to_the_cheap_model(catalog: Catalog) -> None:
    choice = choose(catalog, [user("what is the capital of France")], words)
    assert (choice.spec.id, choice.reason) == ("small", "cheap: easy")


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([user("Prove that there are infinitely many primes")], "strong: keyword 'prove'"),
        ([user("explain it STEP BY STEP please")], "strong: keyword 'step by step'"),
        ([user("fix my code")], "strong: keyword 'code'"),
        ([user("word " * 21)], "strong: prompt of 21 tokens > 20"),
        (
            [{"role": "system", "content": "you are a careful assistant who checks every fact"}, user("hi")],
            "strong: system prompt of 9 tokens > 8",
        ),
        (
            [user("a"), {"role": "assistant", "content": "b"}, user("c"), user("d")],
            "strong: 3 user turns > 2",
        ),
    ],
)
def test_hard_requests_go_to_the_strong_model_with_the_rule_that_fired(
    catalog: Catalog, messages: list[dict[str, Any]], reason: str
) -> None:
    choice = choose(catalog, messages, words)
    assert (choice.spec.id, choice.reason) == ("big", reason)


def test_keywords_match_whole_words_only_and_only_in_the_last_user_message(catalog: Catalog) -> None:
    assert choose(catalog, [user("the barcode scanner")], words).spec.id == "small"  # "code" inside a word
    history = [user("write code"), {"role": "assistant", "content": "ok"}, user("thanks")]
    assert choose(catalog, history, words).spec.id == "small"


def test_a_missing_model_falls_back_to_the_other_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "auto.toml"
    path.write_text(TOML)
    only_small = Catalog.load(Settings(), EnvSecrets({"P_KEY": "p"}), path)
    choice = choose(only_small, [user("prove it")], words)
    assert choice.spec.id == "small"
    assert choice.reason == "strong: keyword 'prove'; big is not available, used small"
    with pytest.raises(UnknownModel):
        choose(Catalog.load(Settings(), EnvSecrets({}), path), [user("hi")], words)


def test_rules_left_out_never_fire_and_an_incomplete_table_disables_auto() -> None:
    rule = AutoRule.from_config({"cheap": "a", "strong": "b"})
    assert rule is not None
    assert rule.classify([user("prove " + "x " * 10_000)], words) == (False, "easy")
    assert AutoRule.from_config({"cheap": "a"}) is None
