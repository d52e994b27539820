"""The chain of candidate models: which fallbacks may serve a call, and at what output limit."""

from __future__ import annotations

import pytest

from shared.catalog.catalog import ModelSpec
from shared.chat.chain import output_limit, plan_chain
from shared.errors import BadRequest
from shared.gateway.types import Candidate

# Prices in credits per million tokens: 1 credit per 10 input tokens, 1 per 5 output tokens.
MAIN = ModelSpec("main", "a", "openai/main", 100_000, 200_000, 8192, 2048)
CHEAP = ModelSpec("cheap", "b", "openai/cheap", 100_000, 200_000, 8192, 4096)
DEAR = ModelSpec("dear", "b", "openai/dear", 1_000_000, 2_000_000, 8192, 2048)
SMALL = ModelSpec("small", "b", "openai/small", 100_000, 200_000, 1024, 2048)


def everyone(model: str) -> bool:
    return True


def tokens(**counts: int) -> dict[str, int]:
    return {"main": 100, "cheap": 100, "dear": 100, "small": 100, **counts}


def test_the_output_limit_is_the_clients_capped_by_model_and_context() -> None:
    assert output_limit(MAIN, 100, None) == 2048
    assert output_limit(MAIN, 100, 50) == 50
    assert output_limit(MAIN, 100, 10_000) == 2048
    assert output_limit(MAIN, 8000, None) == 192


def test_a_prompt_the_context_cannot_take_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        output_limit(MAIN, 8192, None)
    assert caught.value.code == "context_length_exceeded"


def test_fallbacks_the_plan_does_not_allow_are_dropped() -> None:
    plan = plan_chain(Candidate(MAIN, 100, 100), [CHEAP, DEAR], tokens(), lambda m: m != "cheap")
    assert [c.spec.id for c in plan.fallbacks] == ["dear"]


def test_a_fallback_whose_context_cannot_take_the_prompt_is_dropped() -> None:
    plan = plan_chain(Candidate(MAIN, 100, 100), [SMALL, CHEAP], tokens(small=1024), everyone)
    assert [c.spec.id for c in plan.fallbacks] == ["cheap"]
    # With room for fewer tokens than wanted, it stays at the output its context leaves.
    plan = plan_chain(Candidate(MAIN, 100, 100), [SMALL], tokens(small=1000), everyone)
    assert plan.fallbacks == (Candidate(SMALL, 24, 1000),)


def test_fallbacks_are_clamped_to_the_wanted_output_and_their_own_limit() -> None:
    plan = plan_chain(Candidate(MAIN, 3000, 100), [CHEAP, DEAR], tokens(cheap=120), everyone)
    assert plan.fallbacks == (Candidate(CHEAP, 3000, 120), Candidate(DEAR, 2048, 100))


def test_the_hold_asked_for_is_the_worst_case_over_the_chain() -> None:
    plan = plan_chain(Candidate(MAIN, 100, 100), [CHEAP, DEAR], tokens(), everyone)
    assert plan.worst_case == DEAR.cost(100, 100) == 300
    assert plan.minimum == MAIN.cost(100, 1) == 11


def test_a_hold_that_covers_everything_keeps_the_whole_chain() -> None:
    plan = plan_chain(Candidate(MAIN, 100, 100), [CHEAP, DEAR], tokens(), everyone)
    assert plan.within(plan.worst_case) == [
        Candidate(MAIN, 100, 100),
        Candidate(CHEAP, 100, 100),
        Candidate(DEAR, 100, 100),
    ]


def test_a_fallback_whose_worst_case_does_not_fit_the_hold_is_dropped() -> None:
    plan = plan_chain(Candidate(MAIN, 100, 100), [DEAR, CHEAP], tokens(), everyone)
    chain = plan.within(MAIN.cost(100, 100))  # 30 credits: the dear model's 300 does not fit
    assert [c.spec.id for c in chain] == ["main", "cheap"]


def test_a_smaller_hold_cuts_the_output_of_every_candidate() -> None:
    plan = plan_chain(Candidate(MAIN, 100, 100), [CHEAP], tokens(), everyone)
    # 20 credits: 10 for the prompt, 10 for output = 50 tokens.
    assert plan.within(20) == [Candidate(MAIN, 50, 100), Candidate(CHEAP, 50, 100)]


def test_the_requested_model_always_gets_at_least_one_token() -> None:
    plan = plan_chain(Candidate(MAIN, 100, 100), [], tokens(), everyone)
    assert plan.within(plan.minimum) == [Candidate(MAIN, 5, 100)]
    assert plan.within(1) == [Candidate(MAIN, 1, 100)]


def test_fallbacks_without_a_needed_capability_are_dropped() -> None:
    capable = ModelSpec(
        "cheap", "b", "openai/cheap", 100_000, 200_000, 8192, 4096, capabilities=frozenset({"tools"})
    )
    plan = plan_chain(Candidate(MAIN, 100, 100), [DEAR, capable], tokens(), everyone, frozenset({"tools"}))
    assert [c.spec.id for c in plan.fallbacks] == ["cheap"]
    plain = plan_chain(Candidate(MAIN, 100, 100), [DEAR, capable], tokens(), everyone)
    assert [c.spec.id for c in plain.fallbacks] == ["dear", "cheap"]
