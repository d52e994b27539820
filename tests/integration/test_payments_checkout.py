"""Stripe Checkout and the customer portal through the API, against the local fake Stripe API reached
through the stripe library."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import User
from tests.fakes.stripe_api import FakeStripe
from tests.integration.payments_fixtures import (  # noqa: F401 - fixtures
    Secrets,
    fixture_api_client,
    fixture_billing_api,
    fixture_buyer,
    fixture_fake_ssl,
    fixture_fake_stripe,
    fixture_function,
    fixture_keys,
    fixture_payments_env,
    post_event,
    sign,
    stripe_event,
)


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
