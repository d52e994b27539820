"""What the simulator's operations share: a call to retry, a violation, and how values are shown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.ledger.schemas import Hold
from tests.sim.model import ModelHold

if TYPE_CHECKING:
    from tests.sim.world import Instance

Action = Callable[["Instance"], Awaitable[Any]]
Expect = Callable[[], Any]


class Violation(AssertionError):
    """The ledger did something the model says it must not."""


@dataclass
class Retry:
    what: str
    wallet: str
    action: Action
    expect: Expect
    view: Callable[[Any], Any] = lambda x: x


def shown(value: Any) -> str:
    if isinstance(value, Hold):
        return f"Hold({value.amount}, {value.state}, charged={value.charged})"
    if isinstance(value, ModelHold):
        return f"Hold({value.amount}, {value.state}, charged={value.shown_charge})"
    if isinstance(value, BaseException):
        return type(value).__name__
    return repr(value)
