"""Subscription invoices through the payments function (issue 11, item 3): a plan's allotment only for
an invoice that opens a period (`subscription_create`, `subscription_cycle`) and pays the plan's price
for its seats; a seat increase mid-period grants the added seats' share of the period left, once per
invoice; a decrease grants nothing and takes nothing back."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from shared.ids import stable_id
from tests.support.payments import Secrets, doc, entries, invariants, post_event, sign, stripe_event

TEAM_CREDITS = 25_000_000  # team in shared/purchases/packages.toml: 3000 cents a seat a month
TEAM_MINOR = 3000
DAY = 86400


def deliver(function: Any, keys: Secrets, kind: str, obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Post one signed event; return its outcome and the stored event record."""
    payload = stripe_event(kind, obj)
    response = post_event(function, payload, sign(payload, keys.webhook_new))
    assert response.status_code == 200, response.get_data(as_text=True)
    record = doc("payment_events", stable_id("stripe", json.loads(payload)["id"])) or {}
    return str(response.get_json()["outcome"]), record


def subscribe(function: Any, keys: Secrets) -> tuple[str, str]:
    w, sub_id = "w-inv-" + uuid.uuid4().hex, "sub_" + uuid.uuid4().hex
    start = {
        "id": "cs_" + uuid.uuid4().hex,
        "object": "checkout.session",
        "mode": "subscription",
        "subscription": sub_id,
        "customer": "cus_" + w[-8:],
        "client_reference_id": w,
        "metadata": {"wallet_id": w, "plan": "team"},
    }
    assert deliver(function, keys, "checkout.session.completed", start)[0] == "subscription_started"
    return w, sub_id


def line(seats: int, start: int, end: int, amount: int, proration: bool = False) -> dict[str, Any]:
    return {
        "price": {"id": "price_team_monthly"},
        "quantity": seats,
        "amount": amount,
        "proration": proration,
        "period": {"start": start, "end": end},
    }


def invoice(sub_id: str, reason: str | None, paid: int, lines: list[dict[str, Any]], **extra: Any) -> Any:
    body = {
        "id": "in_" + uuid.uuid4().hex,
        "object": "invoice",
        "subscription": sub_id,
        "payment_intent": "pi_" + uuid.uuid4().hex,
        "amount_paid": paid,
        "currency": "usd",
        "lines": {"data": lines},
        **extra,
    }
    if reason is not None:
        body["billing_reason"] = reason
    return body


def granted(wallet_id: str) -> int:
    return int(invariants(wallet_id)["granted"]) if doc("wallets", wallet_id) else 0


def test_only_an_invoice_opening_a_period_at_the_plans_price_grants_the_allotment(
    function: Any, keys: Secrets
) -> None:
    w, sub_id = subscribe(function, keys)
    start = int(time.time()) - DAY
    end = start + 30 * DAY
    three = [line(3, start, end, 3 * TEAM_MINOR)]
    # Not a period's invoice: a manual one, one with no reason, a threshold one. Nothing granted.
    for reason in ("manual", None, "subscription_threshold"):
        outcome, record = deliver(function, keys, "invoice.paid", invoice(sub_id, reason, 9000, three))
        assert outcome == "not_a_period_invoice", (reason, outcome)
        assert record["refused"] == "not_a_period_invoice"
    assert granted(w) == 0
    # The plan's price for 3 seats is 9000 cents: less, or another currency, is refused and recorded.
    for paid, currency in ((3000, "usd"), (9000, "eur")):
        bad = invoice(sub_id, "subscription_create", paid, three, currency=currency)
        outcome, record = deliver(function, keys, "invoice.paid", bad)
        assert outcome == "amount_mismatch"
        assert (record["state"], record["refused"]) == ("handled", "amount_mismatch")
    assert granted(w) == 0
    assert entries(w) == []
    # The real one grants 3 seats' month, once.
    good = invoice(sub_id, "subscription_create", 9000, three)
    assert deliver(function, keys, "invoice.paid", good)[0] == "allotment_granted"
    assert deliver(function, keys, "invoice.paid", good)[0] == "already_granted"
    assert granted(w) == 3 * TEAM_CREDITS
    record = doc("subscriptions", sub_id) or {}
    assert (record["period_start"], record["period_end"], record["seats_paid"]) == (start, end, 3)


def test_a_seat_increase_grants_the_added_seats_share_of_the_period_left_once(
    function: Any, keys: Secrets
) -> None:
    w, sub_id = subscribe(function, keys)
    start = int(time.time()) - 10 * DAY
    end = start + 30 * DAY
    cycle = invoice(sub_id, "subscription_cycle", 9000, [line(3, start, end, 3 * TEAM_MINOR)])
    assert deliver(function, keys, "invoice.paid", cycle)[0] == "allotment_granted"

    # In the portal, 3 seats become 5 with 20 of the 30 days left: Stripe credits the unused time of 3
    # seats and charges the remaining time of 5, in one proration invoice paid at once.
    at = start + 10 * DAY
    proration = invoice(
        sub_id,
        "subscription_update",
        4000,
        [line(3, at, end, -6000, proration=True), line(5, at, end, 10000, proration=True)],
    )
    assert deliver(function, keys, "invoice.paid", proration)[0] == "seats_granted"
    assert deliver(function, keys, "invoice.paid", proration)[0] == "already_granted"  # delivered twice
    share = 2 * TEAM_CREDITS * (20 * DAY) // (30 * DAY)
    assert share == 33_333_333
    assert granted(w) == 3 * TEAM_CREDITS + share
    lots = (doc("wallets", w) or {})["lots"]
    assert sorted(int(lot["expires_at"].timestamp()) for lot in lots) == [end, end]

    # Back to 4 seats: Stripe pays nothing (a credit on the customer's balance); nothing granted or taken.
    at = start + 15 * DAY
    decrease = invoice(
        sub_id,
        "subscription_update",
        0,
        [line(5, at, end, -5000, proration=True), line(4, at, end, 4000, proration=True)],
    )
    assert deliver(function, keys, "invoice.paid", decrease)[0] == "nothing_paid"
    sub = {
        "id": sub_id,
        "object": "subscription",
        "status": "active",
        "customer": "cus_x",
        "current_period_start": start,
        "current_period_end": end,
        "items": {"data": [{"price": {"id": "price_team_monthly"}, "quantity": 4}]},
    }
    assert deliver(function, keys, "customer.subscription.updated", sub)[0] == "subscription_recorded"
    assert granted(w) == 3 * TEAM_CREDITS + share
    assert invariants(w)["clawed_back"] == 0


def test_a_proration_invoice_paying_less_than_the_added_seats_share_grants_nothing(
    function: Any, keys: Secrets
) -> None:
    w, sub_id = subscribe(function, keys)
    start = int(time.time()) - 10 * DAY
    end = start + 30 * DAY
    cycle = invoice(sub_id, "subscription_cycle", 9000, [line(3, start, end, 3 * TEAM_MINOR)])
    assert deliver(function, keys, "invoice.paid", cycle)[0] == "allotment_granted"
    at = start + 10 * DAY
    cheap = invoice(
        sub_id,
        "subscription_update",
        100,
        [line(3, at, end, -6000, proration=True), line(5, at, end, 6100, proration=True)],
    )
    outcome, record = deliver(function, keys, "invoice.paid", cheap)
    assert (outcome, record["refused"]) == ("amount_mismatch", "amount_mismatch")
    assert granted(w) == 3 * TEAM_CREDITS
