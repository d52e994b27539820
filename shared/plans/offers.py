"""Plan offers: what a plan costs and includes, beside its rate limits and budgets (shared/plans/limits.py).

Both live in the same TOML file (settings.plans_path): `[plans.<name>]` holds the limits, and
`[plan_billing.<name>]` the offer: credits granted per seat each month, the price per seat, the seats
a workspace on the plan has without a subscription, the most seats it may buy, the models it may call, and
its files' limits (the largest file, how many, how many bytes in all).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Forbidden
from shared.plans.limits import Plan, Plans
from shared.settings import Settings


class PlanOffer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    monthly_credits: int = Field(0, ge=0, description="Credits granted per seat per month (they expire).")
    seat_price_minor: int = Field(
        0, ge=0, description="Price per seat per month, in the currency's minor units."
    )
    currency: str = "usd"
    included_seats: int = Field(1, ge=1, description="Seats without a subscription.")
    max_seats: int = Field(1, ge=1)
    allowed_models: tuple[str, ...] = Field((), description="Model ids this plan may call; empty: all.")
    thread_retention_days: int = Field(
        0, ge=0, description="Days a thread is kept after its last message (0: kept until deleted)."
    )
    file_retention_days: int = Field(
        0, ge=0, description="Days an uploaded file is kept after its upload (0: kept until deleted)."
    )
    max_file_bytes: int = Field(
        10_000_000, ge=1, description="The largest file one may upload (POST /v1/files)."
    )
    max_files: int = Field(100, ge=0, description="Files an owner (user or workspace) may keep.")
    file_storage_bytes: int = Field(100_000_000, ge=0, description="Bytes of files an owner may keep.")
    limits: Plan

    def allows(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


class ModelNotInPlan(Forbidden):
    code = "model_not_in_plan"

    def __init__(self, model: str, plan: str) -> None:
        super().__init__(f"The {plan} plan cannot call {model!r}. Pick another model, or upgrade the plan.")


def ensure_model_allowed(offer: PlanOffer, model: str) -> None:
    if not offer.allows(model):
        raise ModelNotInPlan(model, offer.name)


class PlanOffers:
    def __init__(self, offers: dict[str, PlanOffer], default: str) -> None:
        self._offers = offers
        self.default = offers[default]

    def get(self, name: str | None) -> PlanOffer:
        return self._offers.get(name or "", self.default)

    def all(self) -> list[PlanOffer]:
        return [self._offers[name] for name in sorted(self._offers)]


@lru_cache(maxsize=8)
def _load(path: Path, default: str) -> PlanOffers:
    text = path.read_text()
    raw = tomllib.loads(text).get("plan_billing", {})
    limits = Plans.parse(text, default, str(path))
    offers = {
        name: PlanOffer(name=name, limits=limits.get(name), **raw.get(name, {})) for name in limits.names()
    }
    return PlanOffers(offers, default)


def plan_offers(settings: Settings) -> PlanOffers:
    """The plan offers of these settings, read once per process."""
    return _load(settings.plans_path, settings.default_plan)
