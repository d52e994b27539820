"""Guardrail policies: the shipped per-plan file, validation errors that name the field, workspace
overrides merged over a plan, and banned patterns refused at load."""

from __future__ import annotations

import pytest

from shared.guardrails import PlanPolicies, PolicyError, merge, plan_policies, validate
from shared.guardrails.banned import MAX_PATTERN, BannedMatcher


def test_the_shipped_file_has_a_policy_per_plan() -> None:
    policies = plan_policies()
    for plan in ("free", "pro", "team"):
        policy = policies.for_plan(plan)
        assert policy.checks.injection.action == "block"
        assert policy.checks.pii.action == "mask"
        assert policy.checks.limits.max_chars_per_message > 0
    assert (
        policies.for_plan("team").checks.limits.max_messages
        > policies.for_plan("free").checks.limits.max_messages
    )
    assert policies.for_plan("no-such-plan") is policies.default
    assert policies.for_plan(None) is policies.default


def _error(data: object) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        validate(data)  # type: ignore[arg-type]
    assert info.value.status == 400 and info.value.code == "invalid_guardrail_policy"
    return info.value


def test_an_unknown_check_is_an_error_naming_it() -> None:
    err = _error({"checks": {"moderation_v2": {"action": "block"}}})
    assert err.field == "checks.moderation_v2"
    assert "unknown field" in err.message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"checks": {"pii": {"action": "shred"}}}, "checks.pii.action"),
        ({"checks": {"pii": {"kinds": ["email", "passport"]}}}, "checks.pii.kinds.1"),
        ({"checks": {"pii": {"stages": ["during_call"]}}}, "checks.pii.stages.0"),
        ({"checks": {"injection": {"threshold": 1.5}}}, "checks.injection.threshold"),
        ({"checks": {"injection": {"action": "mask"}}}, "checks.injection.action"),
        ({"checks": {"injection": {"stages": ["post_call"]}}}, "checks.injection.stages"),
        ({"checks": {"limits": {"max_messages": -1}}}, "checks.limits.max_messages"),
        ({"checks": {"limits": {"action": "mask"}}}, "checks.limits.action"),
        ({"checks": {"secrets": {"entropy_threshold": 9}}}, "checks.secrets.entropy_threshold"),
        ({"checks": {"banned": {"colour": "red"}}}, "checks.banned.colour"),
        ({"stream_window": 10}, "stream_window"),
        ({"restore_output": "sometimes"}, "restore_output"),
    ],
)
def test_validation_errors_name_the_field(data: dict[str, object], field: str) -> None:
    assert _error(data).field == field


def test_a_banned_pattern_that_does_not_compile_is_named() -> None:
    err = _error({"checks": {"banned": {"patterns": ["ok", "fine\\d+", "broken(["]}}})
    assert err.field == "checks.banned.patterns.2"
    assert "broken([" in err.message and "does not compile" in err.message


@pytest.mark.parametrize("pattern", ["(a+)+$", "(\\w+\\s?)*x", "(?:ab*)*c", "(x+){2,}", "(a|b+)+"])
def test_nested_quantifiers_are_refused(pattern: str) -> None:
    err = _error({"checks": {"banned": {"patterns": [pattern]}}})
    assert err.field == "checks.banned.patterns.0" and "nests quantifiers" in err.message


def test_overlong_patterns_and_lists_are_refused() -> None:
    assert _error({"checks": {"banned": {"patterns": ["a" * (MAX_PATTERN + 1)]}}}).field == (
        "checks.banned.patterns.0"
    )
    assert _error({"checks": {"banned": {"patterns": ["x"] * 51}}}).field == "checks.banned.patterns"


def test_a_slow_pattern_times_out_and_fails_closed() -> None:
    # Not caught by the nesting check (an alternation of overlapping branches), but bounded at run time.
    matcher = BannedMatcher.build([], ["^(a|aa|aaa|aaaa)*$"])
    kinds = [f.kind for f in matcher.find("a" * 40 + "!")]
    assert kinds in ([], ["timeout"])  # fast engines may finish; a slow one must not hang
    assert validate({"checks": {"banned": {"enabled": True, "patterns": ["^(a|aa|aaa|aaaa)*$"]}}})


def test_banned_words_match_whole_words_any_case() -> None:
    matcher = BannedMatcher.build(["nightingale", "top secret"], [r"ticket-\d{4,}"])
    text = "Project NIGHTINGALE is Top  secret? no: top secret. nightingales; ticket-12345"
    found = [text[f.start : f.end] for f in matcher.find(text)]
    assert found == ["NIGHTINGALE", "top secret", "ticket-12345"]


def test_merge_overrides_a_plan() -> None:
    plan = plan_policies().for_plan("free")
    merged = merge(
        plan,
        {
            "checks": {
                "pii": {"kinds": ["email", "card"], "action": "block"},
                "banned": {"enabled": True, "words": ["acme"]},
                "limits": {"max_messages": 10},
            },
            "restore_output": False,
        },
    )
    assert merged.checks.pii.kinds == {"email", "card"} and merged.checks.pii.action == "block"
    assert merged.checks.banned.words == ("acme",)
    assert merged.checks.limits.max_messages == 10
    # What the override did not name comes from the plan.
    assert merged.checks.limits.max_chars_per_message == plan.checks.limits.max_chars_per_message
    assert merged.checks.injection == plan.checks.injection
    assert merged.restore_output is False
    assert plan.checks.pii.action == "mask"  # the plan's policy is unchanged


def test_merge_cannot_loosen_the_plan_limits() -> None:
    plan = plan_policies().for_plan("free")
    cap = plan.checks.limits.max_chars_per_message
    with pytest.raises(PolicyError) as info:
        merge(plan, {"checks": {"limits": {"max_chars_per_message": cap + 1}}})
    assert info.value.field == "checks.limits.max_chars_per_message"
    with pytest.raises(PolicyError) as info:
        merge(plan, {"checks": {"limits": {"max_messages": 0}}})  # 0 would mean "no limit"
    assert info.value.field == "checks.limits.max_messages"
    with pytest.raises(PolicyError) as info:
        merge(plan, {"checks": {"limits": {"enabled": False}}})
    assert info.value.field == "checks.limits.enabled"


def test_merge_errors_name_the_override_field() -> None:
    plan = plan_policies().for_plan("pro")
    with pytest.raises(PolicyError) as info:
        merge(plan, {"checks": {"pii": {"kinds": ["email", "dna"]}}})
    assert info.value.field == "checks.pii.kinds.1"
    with pytest.raises(PolicyError) as info:
        merge(plan, {"checks": {"sentiment": {}}})
    assert info.value.field == "checks.sentiment"
    with pytest.raises(PolicyError):
        merge(plan, ["not", "an", "object"])  # type: ignore[arg-type]


def test_a_bad_plans_file_names_the_plan() -> None:
    with pytest.raises(PolicyError) as info:
        PlanPolicies.parse('[plans.free.checks.pii]\naction = "mask"\n[plans.pro.checks.pii]\naction = "x"\n')
    assert info.value.field == "plans.pro.checks.pii.action"
    with pytest.raises(PolicyError) as info:
        PlanPolicies.parse("[plans.pro]\n", default="free")
    assert "default plan" in info.value.message
    with pytest.raises(PolicyError):
        PlanPolicies.parse("[plans.free\n")
