"""Guardrail policies: which checks run, at which stage, with which action and thresholds.

A plan has a default policy (policies.toml, one table per plan); a workspace may override parts of it
(`merge`): tables merge key by key, lists and values replace. A workspace may tighten the plan's limits
but not loosen them. Everything is validated when loaded, so a bad policy is refused up front with a
`PolicyError` naming the field, never discovered mid-request: an unknown check or key, a wrong action
for a check, a banned regex that does not compile or could backtrack catastrophically.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.guardrails.banned import MAX_PATTERNS, MAX_WORDS, BannedMatcher, PatternProblem
from shared.guardrails.errors import PolicyError
from shared.guardrails.recognizers import PII_KINDS, PiiKind

log = logging.getLogger(__name__)

Action = Literal["block", "mask", "log_only"]
Stage = Literal["pre_call", "post_call"]
ModerationStage = Literal["pre_call", "during_call"]  # during_call: beside the provider call, moderation only
CHECK_NAMES = ("limits", "banned", "injection", "secrets", "pii", "moderation")
POLICIES_PATH = Path(__file__).with_name("policies.toml")


class _Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    action: Action = "log_only"
    stages: frozenset[Stage] = frozenset({"pre_call"})

    def runs(self, stage: str) -> bool:
        return self.enabled and stage in self.stages


class PiiCheck(_Check):
    kinds: frozenset[PiiKind] = frozenset(PII_KINDS)


class SecretsCheck(_Check):
    min_length: int = Field(24, ge=16, le=256, description="shortest token judged by entropy alone")
    entropy_threshold: float = Field(4.0, ge=3.0, le=6.0, description="bits per character")


class InjectionCheck(_Check):
    threshold: float = Field(0.6, gt=0.0, le=1.0)
    strip_invisible: bool = Field(
        True, description="remove zero-width, tag and bidi characters before the call"
    )

    @field_validator("action")
    @classmethod
    def _no_mask(cls, action: Action) -> Action:
        if action == "mask":
            raise ValueError("injection can only block or log_only (there is nothing to mask)")
        return action

    @field_validator("stages")
    @classmethod
    def _pre_call_only(cls, stages: frozenset[Stage]) -> frozenset[Stage]:
        if "post_call" in stages:
            raise ValueError("injection runs on input only (pre_call)")
        return stages


class ModerationCheck(_Check):
    """The provider's moderation endpoint (OpenAI's omni-moderation through litellm; the platform's
    MODERATION_MODEL) on the request's text: `pre_call` waits for it before anything is reserved,
    `during_call` runs it beside the provider call and cuts the call when it flags."""

    enabled: bool = False
    action: Action = "block"
    stages: frozenset[ModerationStage] = frozenset({"during_call"})  # type: ignore[assignment]
    fail_closed: bool = Field(
        False, description="block when the moderation endpoint can't answer (default: let the call through)"
    )

    @field_validator("action")
    @classmethod
    def _no_mask(cls, action: Action) -> Action:
        if action == "mask":
            raise ValueError("moderation can only block or log_only")
        return action


class LimitsCheck(_Check):
    action: Action = "block"
    max_chars_per_message: int = Field(0, ge=0, description="0: no limit")
    max_messages: int = Field(0, ge=0, description="0: no limit")

    @field_validator("action")
    @classmethod
    def _no_mask(cls, action: Action) -> Action:
        if action == "mask":
            raise ValueError("limits can only block or log_only")
        return action


class BannedCheck(_Check):
    words: tuple[str, ...] = Field((), max_length=MAX_WORDS)
    patterns: tuple[str, ...] = Field((), max_length=MAX_PATTERNS)

    @cached_property
    def matcher(self) -> BannedMatcher:
        return BannedMatcher.build(self.words, self.patterns)


class Checks(BaseModel):
    """One entry per check; a name not listed here is refused (extra="forbid")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: LimitsCheck = LimitsCheck()
    banned: BannedCheck = BannedCheck(enabled=False)
    injection: InjectionCheck = InjectionCheck(action="block")
    secrets: SecretsCheck = SecretsCheck(action="mask")
    pii: PiiCheck = PiiCheck(action="mask")
    moderation: ModerationCheck = ModerationCheck()


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    checks: Checks = Checks()
    restore_output: bool = Field(True, description="put masked values back into the answer")
    trace_content: bool = Field(
        False,
        description="send the (masked) prompt and the answer to the LLM tracer (Langfuse) when one is set",
    )
    stream_window: int = Field(
        320, ge=256, le=4096, description="characters a stream holds back; at least the longest finding"
    )
    stream_step: int = Field(
        64, ge=1, le=4096, description="characters gathered before each scan of a stream"
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validate(data: Mapping[str, Any]) -> Policy:
    """A Policy from plain data (TOML, JSON), or a PolicyError naming the first bad field."""
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        problem = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise PolicyError(_field_path(first["loc"]), problem) from None
    try:
        _ = policy.checks.banned.matcher
    except PatternProblem as exc:
        raise PolicyError(f"checks.banned.patterns.{exc.index}", str(exc)) from None
    return policy


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge(plan: Policy, override: Mapping[str, Any]) -> Policy:
    """The plan's policy with a workspace's override on top; limits may only get tighter."""
    if not isinstance(override, Mapping):
        raise PolicyError("", "the override must be an object")
    merged = validate(_deep_merge(plan.model_dump(mode="json"), override))
    for name in ("max_chars_per_message", "max_messages"):
        cap = getattr(plan.checks.limits, name)
        value = getattr(merged.checks.limits, name)
        if cap and not 0 < value <= cap:
            raise PolicyError(f"checks.limits.{name}", f"the plan allows at most {cap}")
    if plan.checks.limits.enabled and not merged.checks.limits.enabled:
        raise PolicyError("checks.limits.enabled", "the plan's limits cannot be turned off")
    return merged


class PlanPolicies:
    """The default policy of every plan; an unknown plan gets the default plan's, with a warning."""

    def __init__(self, policies: dict[str, Policy], default: str) -> None:
        if default not in policies:
            raise PolicyError("plans", f"no policy for the default plan {default!r}")
        self._policies = policies
        self.default = policies[default]

    @classmethod
    def parse(cls, text: str, default: str = "free") -> PlanPolicies:
        try:
            raw = tomllib.loads(text).get("plans", {})
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError("", f"not valid TOML: {exc}") from None
        policies: dict[str, Policy] = {}
        for name, data in raw.items():
            try:
                policies[name] = validate(data)
            except PolicyError as exc:
                raise PolicyError(f"plans.{name}.{exc.field}", exc.problem) from None
        return cls(policies, default)

    @classmethod
    def load(cls, path: Path = POLICIES_PATH, default: str = "free") -> PlanPolicies:
        return cls.parse(path.read_text(), default)

    def for_plan(self, plan: str | None) -> Policy:
        if plan is None:
            return self.default
        policy = self._policies.get(plan)
        if policy is None:
            log.warning("no guardrail policy for the plan: using the default", extra={"plan": plan})
            return self.default
        return policy


@lru_cache(maxsize=4)
def plan_policies(path: Path = POLICIES_PATH, default: str = "free") -> PlanPolicies:
    return PlanPolicies.load(path, default)
