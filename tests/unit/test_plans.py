"""The shipped plans file loads, and its plans are ordered free < pro < team."""

from __future__ import annotations

from pathlib import Path

from shared.plans.limits import Plans, plans_for
from shared.settings import Settings


def test_the_shipped_plans_load_with_the_default_settings() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    plans = plans_for(settings)
    assert plans.default.name == settings.default_plan == "free"
    assert {"free", "pro", "team"} <= set(plans.names())
    free, pro, team = plans.get("free"), plans.get("pro"), plans.get("team")
    assert free.requests_per_minute < pro.requests_per_minute < team.requests_per_minute
    assert free.tokens_per_minute < pro.tokens_per_minute < team.tokens_per_minute
    assert team.key_requests_per_minute < team.requests_per_minute  # one key cannot use a whole team's limit
    assert pro.key_requests_per_minute == pro.requests_per_minute  # absent: the user's limit
    assert 0 < pro.daily_budget < pro.monthly_budget


def test_the_test_plans_file_loads() -> None:
    path = Path(__file__).parent.parent / "integration" / "ratelimit_plans.toml"
    plans = Plans.load(path, "tiny")
    assert plans.get("tiny").key_requests_per_minute == 2
