"""Stripe webhooks through the payments function, on the Firestore emulator: signatures (missing,
tampered, stale, future, rotation), each event once, refunds before payments, disputes into debt,
subscriptions. After each: the ledger invariants and one effect per external id."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.ids import stable_id
from shared.ledger.errors import PaymentDebt
from shared.ledger.ledger import Ledger
from shared.purchases.webhook_events import EventStore
from shared.settings import Settings
from shared.telemetry.metrics import configure_metrics, prometheus_text
from tests.support.ledger import ledger_settings
from tests.support.payments import (
    Secrets,
    doc,
    entries,
    invariants,
    payment_doc,
    post_event,
    run,
    sign,
    stripe_event,
)

PACKAGE_CREDITS = 5_000_000  # credits-5 in shared/purchases/packages.toml, 500 cents


def wallet() -> str:
    return "w-pay-" + uuid.uuid4().hex


def pi() -> str:
    return "pi_" + uuid.uuid4().hex


def session(wallet_id: str, payment_intent: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "cs_" + uuid.uuid4().hex,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": payment_intent,
        "customer": "cus_" + wallet_id[-8:],
        "client_reference_id": wallet_id,
        "amount_total": 500,
        "currency": "usd",
        "metadata": {"wallet_id": wallet_id, "package": "credits-5"},
        **extra,
    }


def charge(payment_intent: str, refunded: int, wallet_id: str | None = None) -> dict[str, Any]:
    return {
        "id": "ch_" + payment_intent[3:],
        "object": "charge",
        "amount": 500,
        "amount_refunded": refunded,
        "refunded": refunded >= 500,
        "currency": "usd",
        "payment_intent": payment_intent,
        "metadata": {"wallet_id": wallet_id} if wallet_id else {},
    }


def deliver(function: Any, keys: Secrets, kind: str, obj: dict[str, Any], created: int | None = None) -> Any:
    payload = stripe_event(kind, obj, created)
    response = post_event(function, payload, sign(payload, keys.webhook_new))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def one_effect_per_id(wallet_id: str) -> None:
    refs = Counter((e["kind"], e["ref"]) for e in entries(wallet_id))
    assert all(n == 1 for n in refs.values()), refs


def event_recorded(event_id: str) -> bool:
    return doc("payment_events", stable_id("stripe", event_id)) is not None


def test_the_same_event_three_times_in_parallel_grants_once(
    function: Any, keys: Secrets, settings: Settings
) -> None:
    configure_metrics(settings)  # as the function's instance does with METRICS_EXPORTER set
    w = wallet()
    payload = stripe_event("checkout.session.completed", session(w, pi()))
    header = sign(payload, keys.webhook_new)
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda _: post_event(function, payload, header), range(3)))
    # A delivery that meets another one still handling the event is not acknowledged (409: Stripe retries).
    assert {r.status_code for r in responses} <= {200, 409}
    outcomes = sorted(str(r.get_json().get("outcome", "duplicate")) for r in responses)
    assert outcomes.count("granted") == 1, outcomes
    # And once more, later: acknowledged, nothing done.
    again = post_event(function, payload, sign(payload, keys.webhook_new))
    assert (again.status_code, again.get_json()["duplicate"]) == (200, True)
    # The webhooks metric counts each delivery by provider, status and outcome (no ids).
    text = prometheus_text().decode()
    assert 'outcome="duplicate"' in text and 'provider="stripe"' in text and w not in text
    state = invariants(w)
    assert (state["available"], state["granted"]) == (PACKAGE_CREDITS, PACKAGE_CREDITS)
    assert [e["kind"] for e in entries(w)] == ["purchase"]
    one_effect_per_id(w)
    # The event record is deleted by Firestore's TTL policy once providers have long stopped retrying.
    record = doc("payment_events", stable_id("stripe", json.loads(payload)["id"])) or {}
    assert record["expire_at"] - record["received_at"] == dt.timedelta(days=90)


def test_a_duplicate_of_an_event_still_being_handled_is_not_acknowledged(
    function: Any, keys: Secrets
) -> None:
    """Found by the simulator (tests/sim, SIM_SEED=5 SIM_OPS=3000 SIM_FAULTS=0.3): a delivery that met
    another one still handling the event was answered 200 duplicate, so Stripe stopped retrying; when the
    first delivery then failed (or its process died), the payment was never granted. Now it is a 409,
    and Stripe's retry finishes the event."""
    w = wallet()
    payload = stripe_event("checkout.session.completed", session(w, pi()))
    event_id = json.loads(payload)["id"]
    events = lambda db: EventStore(db, 60)  # noqa: E731 - the store as the function builds it
    assert run(lambda db: events(db).claim("stripe", event_id, "checkout.session.completed")) == "handle"
    busy = post_event(function, payload, sign(payload, keys.webhook_new))
    assert busy.status_code == 409, busy.get_data(as_text=True)
    assert doc("wallets", w) is None
    run(lambda db: events(db).release("stripe", event_id))  # the first delivery failed
    retried = post_event(function, payload, sign(payload, keys.webhook_new))
    assert (retried.status_code, retried.get_json()["outcome"]) == (200, "granted")
    again = post_event(function, payload, sign(payload, keys.webhook_new))
    assert (again.status_code, again.get_json()["duplicate"]) == (200, True)
    assert invariants(w)["granted"] == PACKAGE_CREDITS


@pytest.mark.parametrize(("age", "code"), [(301, "stale_signature"), (-120, "future_signature")])
def test_stale_and_future_timestamps_are_refused(function: Any, keys: Secrets, age: int, code: str) -> None:
    w = wallet()
    payload = stripe_event("checkout.session.completed", session(w, pi()))
    response = post_event(
        function, payload, sign(payload, keys.webhook_new, timestamp=int(time.time()) - age)
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert not event_recorded(json.loads(payload)["id"])
    assert doc("wallets", w) is None


def test_a_tampered_body_is_refused(function: Any, keys: Secrets) -> None:
    w = wallet()
    payload = stripe_event("checkout.session.completed", session(w, pi()))
    header = sign(payload, keys.webhook_new)
    tampered = payload.replace('"credits-5"', '"credits-20"')
    assert tampered != payload
    response = post_event(function, tampered, header)
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "bad_signature")
    assert not event_recorded(json.loads(payload)["id"])
    assert doc("wallets", w) is None


def test_a_missing_header_is_refused(function: Any, keys: Secrets) -> None:
    w = wallet()
    payload = stripe_event("checkout.session.completed", session(w, pi()))
    response = post_event(function, payload, None)
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "missing_signature")
    for header in ("", "t=abc,v1=", "v1=deadbeef"):
        assert post_event(function, payload, header).status_code == 400
    assert not event_recorded(json.loads(payload)["id"])
    assert doc("wallets", w) is None


def test_secret_rotation_accepts_old_and_new_and_refuses_unknown(function: Any, keys: Secrets) -> None:
    unknown = "whsec_" + uuid.uuid4().hex
    for secrets_, ok in (
        ((keys.webhook_old,), True),
        ((keys.webhook_new,), True),
        ((unknown, keys.webhook_new), True),  # one v1 per secret Stripe holds: any known one will do
        ((unknown,), False),
    ):
        w = wallet()
        payload = stripe_event("checkout.session.completed", session(w, pi()))
        response = post_event(function, payload, sign(payload, *secrets_))
        assert response.status_code == (200 if ok else 400), (secrets_, response.get_data(as_text=True))
        assert event_recorded(json.loads(payload)["id"]) is ok
        assert (invariants(w)["available"] if ok else doc("wallets", w)) == (PACKAGE_CREDITS if ok else None)


def test_a_refund_before_its_payment_ends_correct(function: Any, keys: Secrets) -> None:
    w, payment = wallet(), pi()
    early = deliver(function, keys, "charge.refunded", charge(payment, 200, w))
    assert early["outcome"] == "clawback_pending"
    assert doc("wallets", w) is None
    deliver(function, keys, "checkout.session.completed", session(w, payment))
    state = invariants(w)
    assert (state["granted"], state["clawed_back"], state["available"]) == (5_000_000, 2_000_000, 3_000_000)
    # The rest refunded later; an older running total delivered late changes nothing.
    deliver(function, keys, "charge.refunded", charge(payment, 500, w))
    assert (
        deliver(function, keys, "charge.refunded", charge(payment, 200, w))["outcome"] == "clawback_replayed"
    )
    state = invariants(w)
    assert (state["available"], state["clawed_back"], state["debt"]) == (0, 5_000_000, 0)
    assert payment_doc("stripe", payment)["clawed"] == 5_000_000  # type: ignore[index]
    one_effect_per_id(w)


def test_a_dispute_after_a_partial_spend_leaves_debt_until_a_top_up(function: Any, keys: Secrets) -> None:
    w, payment = wallet(), pi()
    deliver(function, keys, "checkout.session.completed", session(w, payment))

    async def spend(db: Any) -> None:
        ledger = Ledger(db, ledger_settings())
        await ledger.reserve(w, "h1", want=3_000_000, minimum=1)
        await ledger.settle(w, "h1", 3_000_000)

    run(spend)
    dispute = {
        "id": "dp_" + uuid.uuid4().hex,
        "object": "dispute",
        "amount": 500,
        "currency": "usd",
        "charge": "ch_" + payment[3:],
        "payment_intent": payment,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    assert deliver(function, keys, "charge.dispute.created", dispute)["outcome"] == "clawback_granted"
    state = invariants(w)
    assert (state["available"], state["clawed_back"], state["debt"]) == (0, 2_000_000, 3_000_000)

    async def refused(db: Any) -> PaymentDebt:
        with pytest.raises(PaymentDebt) as err:
            await Ledger(db, ledger_settings()).reserve(w, "h2", want=10, minimum=1)
        return err.value

    err = run(refused)
    assert (err.status, err.code, err.debt) == (402, "payment_debt", 3_000_000)
    assert "3000000" in err.message and "checkout" in err.message

    deliver(function, keys, "checkout.session.completed", session(w, pi()))
    state = invariants(w)
    assert (state["available"], state["debt"]) == (2_000_000, 0)
    assert [e["kind"] for e in entries(w)][-3:] == ["clawback", "purchase", "debt_paid"]
    one_effect_per_id(w)


def test_subscription_start_renewals_and_updates(function: Any, keys: Secrets) -> None:
    w, sub_id = wallet(), "sub_" + uuid.uuid4().hex
    start = session(
        w, None, mode="subscription", subscription=sub_id, metadata={"wallet_id": w, "plan": "pro"}
    )
    assert deliver(function, keys, "checkout.session.completed", start)["outcome"] == "subscription_started"

    period = {"start": int(time.time()), "end": int(time.time()) + 30 * 86400}

    def invoice(invoice_id: str) -> dict[str, Any]:
        return {
            "id": invoice_id,
            "object": "invoice",
            "subscription": sub_id,
            "billing_reason": "subscription_cycle",
            "amount_paid": 9000,  # 3 seats of team, 3000 cents each
            "currency": "usd",
            "lines": {"data": [{"price": {"id": "price_team_monthly"}, "quantity": 3, "period": period}]},
        }

    first = invoice("in_" + uuid.uuid4().hex)
    assert deliver(function, keys, "invoice.paid", first)["outcome"] == "allotment_granted"
    assert deliver(function, keys, "invoice.paid", first)["outcome"] == "already_granted"  # a new event id
    deliver(function, keys, "invoice.paid", invoice("in_" + uuid.uuid4().hex))
    state = invariants(w)
    assert state["granted"] == 2 * 3 * 25_000_000

    def update(created: int, seats: int, cancel: bool, status: str = "active") -> dict[str, Any]:
        obj = {
            "id": sub_id,
            "object": "subscription",
            "status": status,
            "customer": "cus_x",
            "cancel_at_period_end": cancel,
            "items": {"data": [{"price": {"id": "price_team_monthly"}, "quantity": seats}]},
        }
        kind = "customer.subscription.deleted" if status == "canceled" else "customer.subscription.updated"
        return deliver(function, keys, kind, obj, created=created)

    now = int(time.time())
    assert update(now, 5, True)["outcome"] == "subscription_recorded"
    assert update(now - 60, 2, False)["outcome"] == "subscription_stale"  # older, delivered late
    record = doc("subscriptions", sub_id) or {}
    assert (record["wallet_id"], record["plan"], record["seats"], record["cancel_at_period_end"]) == (
        w,
        "team",
        5,
        True,
    )
    update(now + 1, 5, True, status="canceled")
    assert (doc("subscriptions", sub_id) or {})["status"] == "canceled"
    one_effect_per_id(w)


def test_unknown_events_are_acknowledged(function: Any, keys: Secrets) -> None:
    assert (
        deliver(function, keys, "customer.created", {"id": "cus_1", "object": "customer"})["outcome"]
        == "ignored"
    )


@pytest.mark.parametrize(
    ("amount", "currency"), [(50, "usd"), (500, "eur"), (None, "usd")], ids=["cents", "currency", "none"]
)
def test_a_checkout_paying_other_than_its_package_grants_nothing(
    function: Any, keys: Secrets, amount: int | None, currency: str
) -> None:
    w, payment = wallet(), pi()
    paid = session(w, payment, amount_total=amount, currency=currency)
    payload = stripe_event("checkout.session.completed", paid)
    response = post_event(function, payload, sign(payload, keys.webhook_new))
    assert (response.status_code, response.get_json()["outcome"]) == (200, "amount_mismatch")
    record = doc("payment_events", stable_id("stripe", json.loads(payload)["id"])) or {}
    assert (record["state"], record["refused"]) == ("handled", "amount_mismatch")
    assert doc("wallets", w) is None
    assert payment_doc("stripe", payment) is None
