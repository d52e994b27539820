"""What can be bought (GET /v1/billing/packages, from the billing config) and the console's checkout
buttons in a real browser: a button's request reaches the checkout route (the fake Stripe records the
session) and the page follows the returned URL to the provider's (here a stand-in) page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from shared.purchases.price_list import stripe_amount
from tests.fakes.stripe_api import FakeStripe
from tests.support import console as browsing
from tests.support.console import Account
from tests.support.helpers import User, sign_up


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    browsing.built_console()  # before the billing API starts: it mounts console/dist when it exists
    with browsing.launch() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser, billing_api: str) -> Iterator[Page]:
    with browsing.console_page(browser, billing_api) as pg:
        yield pg


def test_the_packages_are_listed_from_the_billing_config(api_client: httpx.Client, buyer: User) -> None:
    answer = api_client.get("/v1/billing/packages", headers=buyer.headers)
    assert answer.status_code == 200, answer.text
    offers = {(o["provider"], o["kind"], o["id"]): o for o in answer.json()["data"]}
    five = offers[("stripe", "package", "credits-5")]
    assert (five["credits"], five["currency"], five["amount"], five["available"]) == (
        5_000_000,
        "USD",
        "5.00",
        True,
    )
    team = offers[("stripe", "plan", "team")]
    assert (team["amount"], team["interval"], team["per"]) == ("30.00", "month", "seat")
    bdt = offers[("sslcommerz", "package", "credits-500-bdt")]
    assert (bdt["amount"], bdt["currency"], bdt["available"]) == ("500.00", "BDT", True)
    assert stripe_amount(500, "jpy") == "500" and stripe_amount(1999, "usd") == "19.99"


def test_the_listing_needs_a_caller_and_a_flood_is_429(api_client: httpx.Client) -> None:
    assert api_client.get("/v1/billing/packages").status_code == 401
    assert api_client.get("/v1/billing/packages", headers={"Authorization": "Bearer nope"}).status_code == 401
    user = sign_up(api_client, f"f{uuid.uuid4().hex[:12]}@example.com", "correct horse battery")
    codes = [api_client.get("/v1/billing/packages", headers=user.headers) for _ in range(80)]
    statuses = [c.status_code for c in codes]
    assert statuses[0] == 200 and 429 in statuses, statuses
    limited = codes[statuses.index(429)]
    assert limited.json()["error"]["code"] and int(limited.headers["Retry-After"]) >= 1


def test_a_checkout_button_reaches_the_checkout_route_and_follows_its_url(
    page: Page, api_client: httpx.Client, buyer: User, fake_stripe: tuple[FakeStripe, str]
) -> None:
    def provider_page(route: Route) -> None:
        route.fulfill(
            status=200, content_type="text/html", body="<title>Checkout</title><p>Stripe test page</p>"
        )

    page.route("https://checkout.stripe.test/**", provider_page)
    browsing.sign_in_page(page, Account(buyer.email, buyer.password))
    page.get_by_role("link", name="Credits").click()
    button = page.get_by_role("button", name="Buy 5,000,000 credits for 5.00 USD (Stripe)")
    expect(button).to_be_visible()
    expect(
        page.get_by_role("button", name="Buy 4,000,000 credits for 500.00 BDT (SSLCommerz)")
    ).to_be_visible()
    sent = len(fake_stripe[0].requests)
    button.focus()
    page.keyboard.press("Enter")  # keyboard-usable
    page.wait_for_url("https://checkout.stripe.test/c/pay/cs_test_*")
    expect(page.locator("p")).to_have_text("Stripe test page")
    path, form = fake_stripe[0].requests[sent]
    assert path == "checkout" and form["line_items[0][price]"] == "price_credits_5"
    assert form["metadata[wallet_id]"] == buyer.user_id
