"""Plans: per-account rate limits and spend budgets, read from a TOML file (settings.plans_path).

A user's plan name is on users/{id} (`plan`); the auth service puts it on the Principal. An unknown name
falls back to the default plan with a warning, so a typo in a user document never locks anyone out.
"""

from __future__ import annotations

import logging
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.settings import Settings

log = logging.getLogger(__name__)


class Plan(BaseModel):
    """Limits of one plan. 0 means no limit; money is in credits (1,000,000 credits = 1 USD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    requests_per_minute: int = Field(0, ge=0)
    tokens_per_minute: int = Field(0, ge=0)
    key_requests_per_minute: int = Field(-1, ge=-1, description="-1: the same as requests_per_minute")
    key_tokens_per_minute: int = Field(-1, ge=-1, description="-1: the same as tokens_per_minute")
    daily_budget: int = Field(0, ge=0)
    monthly_budget: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _key_defaults(self) -> Plan:
        if self.key_requests_per_minute < 0:
            object.__setattr__(self, "key_requests_per_minute", self.requests_per_minute)
        if self.key_tokens_per_minute < 0:
            object.__setattr__(self, "key_tokens_per_minute", self.tokens_per_minute)
        return self


class Plans:
    def __init__(self, plans: dict[str, Plan], default: str) -> None:
        if default not in plans:
            raise ValueError(f"the default plan {default!r} is not one of {sorted(plans)}")
        self._plans = plans
        self.default = plans[default]

    @classmethod
    def parse(cls, text: str, default: str, source: str = "plans") -> Plans:
        try:
            raw = tomllib.loads(text).get("plans", {})
            plans = {name: Plan(name=name, **values) for name, values in raw.items()}
        except (tomllib.TOMLDecodeError, ValidationError, TypeError) as exc:
            raise ValueError(f"{source}: {exc}") from exc
        return cls(plans, default)

    @classmethod
    def load(cls, path: Path, default: str) -> Plans:
        return cls.parse(path.read_text(), default, str(path))

    def get(self, name: str | None) -> Plan:
        if name is None:
            return self.default
        plan = self._plans.get(name)
        if plan is None:
            log.warning("unknown plan: using the default", extra={"plan": name, "default": self.default.name})
            return self.default
        return plan

    def names(self) -> list[str]:
        return sorted(self._plans)


@lru_cache(maxsize=8)
def _cached(path: Path, default: str) -> Plans:
    return Plans.load(path, default)


def plans_for(settings: Settings) -> Plans:
    """The plans of these settings, read once per process."""
    return _cached(settings.plans_path, settings.default_plan)
