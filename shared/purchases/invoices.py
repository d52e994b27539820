"""What a paid Stripe subscription invoice is worth in credits: a pure reading of the invoice, no I/O.

Stripe's `billing_reason` says why an invoice exists. `subscription_create` (a subscription's first
period) and `subscription_cycle` (each new period) bill the plan's price for every seat of the period
ahead: they grant `monthly_credits` a seat, the seats read from the line of the subscription item (not a
proration). `subscription_update` bills a change mid-period (proration_behavior `always_invoice`, as the
portal bills a seat change): a credit line for the unused time of the old quantity and a charge for the
remaining time of the new one, both over [change time, period end]; it grants the added seats' share of
the period left, rounded down. With the default `create_prorations`, the same proration lines ride on the
next cycle's invoice instead, and are granted with it. A decrease nets a credit on the customer's balance:
it grants nothing and takes nothing back. Every other reason (manual, subscription_threshold,
quote_accept, ...) is not a plan's period and grants nothing.

The amount paid must be what our price list says the invoice is worth (each proration line is rounded by
Stripe, hence one minor unit of slack a proration line), in the plan's currency: anything else (a price
changed in the Dashboard only, a coupon) is refused and recorded for a person to look at.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from shared.purchases.price_list import BillingConfig, StripePlan

PERIOD_REASONS = frozenset({"subscription_create", "subscription_cycle"})
UPDATE_REASON = "subscription_update"


@dataclass(frozen=True)
class Line:
    price: str | None
    quantity: int
    amount: int
    proration: bool
    start: int | None
    end: int | None


@dataclass(frozen=True)
class Worth:
    """What a paid invoice grants: `credits` expiring at `end`; `seats` and `start` are the plan
    line's (None for a proration invoice)."""

    credits: int
    end: int
    seats: int | None = None
    start: int | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a paid invoice grants nothing: a machine-readable `code` and what was seen."""

    code: str
    detail: str


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def lines(invoice: dict[str, Any]) -> list[Line]:
    """The invoice's lines, in the older (`price`, `proration`) and newer (`pricing`, `parent`) shapes."""
    found = []
    for line in (invoice.get("lines") or {}).get("data") or []:
        price = _id(line.get("price")) or _id(
            ((line.get("pricing") or {}).get("price_details") or {}).get("price")
        )
        item = (line.get("parent") or {}).get("subscription_item_details") or {}
        period = line.get("period") or {}
        found.append(
            Line(
                price=price,
                quantity=max(int(line.get("quantity") or 1), 1),
                amount=int(line.get("amount") or 0),
                proration=bool(line.get("proration") or item.get("proration")),
                start=_int(period.get("start")),
                end=_int(period.get("end")),
            )
        )
    return found


def worth(invoice: dict[str, Any], config: BillingConfig, known: list[tuple[int, int]]) -> Worth | Refusal:
    """What the paid `invoice` grants. `known`: the subscription's periods (start, end) as recorded, to
    measure what share of its period a proration line covers (a month before its end if none matches)."""
    reason = str(invoice.get("billing_reason") or "")
    if reason not in PERIOD_REASONS and reason != UPDATE_REASON:
        return Refusal("not_a_period_invoice", f"billing_reason {reason or 'missing'}")
    all_lines = lines(invoice)
    prorations = [x for x in all_lines if x.proration]
    plan_lines = [(x, config.plan_for_price(x.price)) for x in all_lines if not x.proration]
    if reason == UPDATE_REASON:
        plan_lines = []  # an update invoice bills prorations (anything else on it is not a period)
    elif len(plan_lines) != 1 or plan_lines[0][1] is None or plan_lines[0][0].end is None:
        return Refusal("no_plan_line", "no single line of a plan's price with its period")
    added = _proration(prorations, config, known)
    if isinstance(added, Refusal):
        return added
    added_credits, added_minor, plans = added
    credits, expected, slack, end = max(added_credits, 0), added_minor, len(prorations), 0
    seats = start = None
    if plan_lines:
        line, plan = plan_lines[0]
        assert plan is not None and line.end is not None  # checked above
        plans.append(plan)
        seats, start, end = line.quantity, line.start, line.end
        credits += plan.monthly_credits * seats
        expected += plan.amount_minor * seats
    elif prorations:
        end = max(x.end or 0 for x in prorations)
    paid, currency = int(invoice.get("amount_paid") or 0), str(invoice.get("currency") or "").lower()
    if any(p.currency != currency for p in plans) or abs(paid - expected) > slack:
        return Refusal("amount_mismatch", f"paid {paid} {currency}, the price list says {expected}")
    if credits <= 0:
        return Refusal("no_seats_added", "the change adds no seats")
    return Worth(credits, end, seats, start)


def _proration(
    prorations: list[Line], config: BillingConfig, known: list[tuple[int, int]]
) -> tuple[int, int, list[StripePlan]] | Refusal:
    """(credits, minor units, plans) of the proration lines: each line's quantity times the plan's monthly
    credits (price) times the share of the period it covers, signed as the line (a credit line is negative),
    summed exactly before rounding down."""
    credits = minor = Fraction(0)
    plans = []
    for line in prorations:
        plan = config.plan_for_price(line.price)
        if plan is None or line.start is None or line.end is None:
            return Refusal("unknown_price", f"a proration line of price {line.price} is not a plan's")
        plans.append(plan)
        start = next((a for a, b in known if b == line.end), None) or month_before(line.end)
        length = max(line.end - start, 1)
        left = min(max(line.end - line.start, 0), length)
        sign = -1 if line.amount < 0 else 1
        credits += Fraction(sign * line.quantity * plan.monthly_credits * left, length)
        minor += Fraction(sign * line.quantity * plan.amount_minor * left, length)
    return math.floor(credits), math.floor(minor), plans


def month_before(end: int) -> int:
    """A monthly period's start, from its end: the same day a month earlier (the last day of a shorter
    month), as Stripe's billing anchor counts."""
    at = dt.datetime.fromtimestamp(end, dt.UTC)
    year, month = (at.year, at.month - 1) if at.month > 1 else (at.year - 1, 12)
    day = min(at.day, calendar.monthrange(year, month)[1])
    return int(at.replace(year=year, month=month, day=day).timestamp())
