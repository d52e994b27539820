"""What a paid Stripe invoice is worth (shared/purchases/invoices.py), without a server: the cases the
integration tests do not post (carried prorations, month lengths, newer API shapes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.purchases.invoices import Refusal, Worth, month_before, worth
from shared.purchases.price_list import load_billing_config
from shared.settings import Settings

CONFIG = load_billing_config(Settings.model_fields["billing_config_path"].default)
DAY = 86400


def ts(year: int, month: int, day: int) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp())


def test_a_month_before_keeps_the_day_or_takes_the_last_one() -> None:
    assert month_before(ts(2026, 3, 15)) == ts(2026, 2, 15)
    assert month_before(ts(2026, 3, 31)) == ts(2026, 2, 28)
    assert month_before(ts(2026, 1, 10)) == ts(2025, 12, 10)


def test_prorations_carried_onto_the_next_cycle_are_checked_and_granted_with_it() -> None:
    """Stripe's default create_prorations bills a mid-period change on the next cycle's invoice."""
    old_start, old_end = ts(2026, 4, 1), ts(2026, 5, 1)  # 30 days
    change, new_end = ts(2026, 4, 21), ts(2026, 6, 1)  # 10 days left of the old period
    lines: list[dict[str, Any]] = [
        {"price": {"id": "price_team_monthly"}, "quantity": 2, "amount": -2000, "proration": True,
         "period": {"start": change, "end": old_end}},
        {"price": {"id": "price_team_monthly"}, "quantity": 4, "amount": 4000, "proration": True,
         "period": {"start": change, "end": old_end}},
        {"price": {"id": "price_team_monthly"}, "quantity": 4, "amount": 12000,
         "period": {"start": old_end, "end": new_end}},
    ]  # fmt: skip
    invoice = {"billing_reason": "subscription_cycle", "amount_paid": 14000, "currency": "usd",
               "lines": {"data": lines}}  # fmt: skip
    share = 2 * 25_000_000 * 10 // 30
    assert worth(invoice, CONFIG, [(old_start, old_end)]) == Worth(
        4 * 25_000_000 + share, new_end, 4, old_end
    )
    assert isinstance(worth({**invoice, "amount_paid": 12000}, CONFIG, []), Refusal)


def test_the_newer_line_shape_is_read() -> None:
    line = {
        "pricing": {"price_details": {"price": "price_pro_monthly"}},
        "parent": {"subscription_item_details": {"proration": False}},
        "quantity": 1,
        "amount": 2000,
        "period": {"start": ts(2026, 4, 1), "end": ts(2026, 5, 1)},
    }
    invoice = {"billing_reason": "subscription_create", "amount_paid": 2000, "currency": "usd",
               "lines": {"data": [line]}}  # fmt: skip
    assert worth(invoice, CONFIG, []) == Worth(20_000_000, ts(2026, 5, 1), 1, ts(2026, 4, 1))
    unknown = {**invoice, "lines": {"data": [{**line, "pricing": {"price_details": {"price": "p_x"}}}]}}
    assert worth(unknown, CONFIG, []) == Refusal(
        "no_plan_line", "no single line of a plan's price with its period"
    )
