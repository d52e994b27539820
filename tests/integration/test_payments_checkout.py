"""Stripe Checkout and the customer portal through the API, against the local fake Stripe API reached
through the stripe library."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.ledger.ledger import Ledger
from tests.fakes.stripe_api import FakeStripe
from tests.support.helpers import User
from tests.support.ledger import ledger_settings
from tests.support.payments import Secrets, invariants, post_event, run, sign, stripe_event


def test_top_up_checkout_returns_the_session_url(
    api_client: httpx.Client, buyer: User, fake_stripe: tuple[FakeStripe, str]
) -> None:
    fake = fake_stripe[0]
    response = api_client.post("/v1/billing/checkout", headers=buyer.headers, json={"package": "credits-5"})
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
    path, form = fake.requests[-1]
    assert path == "checkout"
    assert form["mode"] == "payment"
    assert form["line_items[0][price]"] == "price_credits_5"
    assert form["metadata[wallet_id]"] == buyer.user_id
    assert form["payment_intent_data[metadata][wallet_id]"] == buyer.user_id
    assert form["client_reference_id"] == buyer.user_id


def test_plan_checkout_is_a_subscription(
    api_client: httpx.Client, buyer: User, fake_stripe: tuple[FakeStripe, str]
) -> None:
    response = api_client.post("/v1/billing/checkout", headers=buyer.headers, json={"plan": "team"})
    assert response.status_code == 200, response.text
    _, form = fake_stripe[0].requests[-1]
    assert (form["mode"], form["line_items[0][price]"]) == ("subscription", "price_team_monthly")
    assert form["subscription_data[metadata][wallet_id]"] == buyer.user_id


def test_bad_checkout_requests_are_refused(api_client: httpx.Client, buyer: User) -> None:
    for body, status in (({"package": "nope"}, 400), ({"plan": "nope"}, 400), ({"provider": "paypal"}, 422)):
        response = api_client.post("/v1/billing/checkout", headers=buyer.headers, json=body)
        assert response.status_code == status, response.text
    assert api_client.post("/v1/billing/checkout", json={"package": "credits-5"}).status_code == 401


def test_portal_needs_a_customer_then_returns_its_url(
    api_client: httpx.Client, buyer: User, fake_stripe: tuple[FakeStripe, str], function: Any, keys: Secrets
) -> None:
    before = api_client.post("/v1/billing/portal", headers=buyer.headers)
    assert (before.status_code, before.json()["error"]["code"]) == (409, "no_billing_account")
    # A completed checkout records the wallet's Stripe customer.
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": "pi_portal_" + buyer.user_id,
        "customer": "cus_portal_1",
        "amount_total": 500,
        "currency": "usd",
        "metadata": {"wallet_id": buyer.user_id, "package": "credits-5"},
    }
    payload = stripe_event("checkout.session.completed", session)
    assert post_event(function, payload, sign(payload, keys.webhook_new)).status_code == 200
    after = api_client.post("/v1/billing/portal", headers=buyer.headers)
    assert after.status_code == 200, after.text
    assert after.json()["url"].startswith("https://billing.stripe.test/p/session/")
    assert fake_stripe[0].requests[-1] == (
        "portal",
        {"customer": "cus_portal_1", "return_url": "http://app.test/billing"},
    )


def test_chat_is_refused_while_in_debt_and_works_after_a_top_up(
    api_client: httpx.Client, buyer: User, function: Any, keys: Secrets
) -> None:
    wallet_id = buyer.user_id

    def deliver(kind: str, obj: dict[str, Any]) -> None:
        payload = stripe_event(kind, obj)
        response = post_event(function, payload, sign(payload, keys.webhook_old))
        assert response.status_code == 200, response.get_data(as_text=True)

    def paid(payment: str, package: str, amount: int) -> dict[str, Any]:
        return {
            "id": "cs_" + payment,
            "object": "checkout.session",
            "mode": "payment",
            "payment_status": "paid",
            "payment_intent": payment,
            "amount_total": amount,
            "currency": "usd",
            "metadata": {"wallet_id": wallet_id, "package": package},
        }

    first = "pi_debt_" + uuid.uuid4().hex
    deliver("checkout.session.completed", paid(first, "credits-5", 500))

    async def spend(db: Any) -> None:
        ledger = Ledger(db, ledger_settings())
        await ledger.reserve(wallet_id, "spent", want=5_500_000, minimum=5_500_000)
        await ledger.settle(wallet_id, "spent", 5_500_000)

    run(spend)
    dispute = {"id": "dp_" + uuid.uuid4().hex, "object": "dispute", "amount": 500, "payment_intent": first}
    deliver("charge.dispute.created", dispute)
    assert (invariants(wallet_id)["available"], invariants(wallet_id)["debt"]) == (0, 4_500_000)

    chat = {"model": "fake-echo", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    refused = api_client.post("/v1/chat/completions", headers=buyer.headers, json=chat)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "payment_debt"
    assert "4500000" in error["message"] and "/v1/billing/checkout" in error["message"]
    account = api_client.get("/v1/billing", headers=buyer.headers).json()
    assert account == {"debt": 4_500_000, "clawed_back": 500_000, "stripe_customer": False}

    deliver("checkout.session.completed", paid("pi_" + uuid.uuid4().hex, "credits-20", 2000))
    assert (invariants(wallet_id)["available"], invariants(wallet_id)["debt"]) == (15_500_000, 0)
    answered = api_client.post("/v1/chat/completions", headers=buyer.headers, json=chat)
    assert answered.status_code == 200, answered.text
    assert api_client.get("/v1/billing", headers=buyer.headers).json()["debt"] == 0
