"""SSLCommerz end to end: checkout through the API (an order and a session at the fake), then the IPN
and the browser's redirect through the payments function, checked by verify_sign and the fake
validation API. Credits are granted once, and only for an exact match."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from shared.bootstrap import build_reconciler
from shared.settings import get_settings
from tests.fakes.sslcommerz import FakeSslCommerz
from tests.support.helpers import User
from tests.support.payments import Secrets, doc, entries, invariants

WELCOME = 1_000_000
PACKAGE = "credits-500-bdt"
PACKAGE_CREDITS = 4_000_000


def checkout(api_client: httpx.Client, buyer: User, fake: FakeSslCommerz) -> str:
    """Start an SSLCommerz checkout; return the order's tran_id."""
    before = set(fake.sessions)
    response = api_client.post(
        "/v1/billing/checkout", headers=buyer.headers, json={"provider": "sslcommerz", "package": PACKAGE}
    )
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith("https://sslcommerz.test/gw/")
    (tran_id,) = set(fake.sessions) - before
    return tran_id


def ipn(function: Any, form: dict[str, str]) -> Any:
    return function.test_client().post("/sslcommerz/ipn", data=form)


def purchases(wallet_id: str) -> list[dict[str, Any]]:
    return [e for e in entries(wallet_id) if e["kind"] == "purchase"]


def test_checkout_stores_the_order_and_starts_a_session(
    api_client: httpx.Client, buyer: User, fake_ssl: tuple[FakeSslCommerz, str]
) -> None:
    fake = fake_ssl[0]
    tran_id = checkout(api_client, buyer, fake)
    order = doc("orders", tran_id) or {}
    assert (order["user_id"], order["wallet_id"], order["state"]) == (buyer.user_id, buyer.user_id, "pending")
    assert (order["amount"], order["currency"], order["credits"]) == ("500.00", "BDT", PACKAGE_CREDITS)
    session = fake.sessions[tran_id]
    assert (session["total_amount"], session["currency"]) == ("500.00", "BDT")
    assert session["ipn_url"] == "http://payments.test/sslcommerz/ipn"
    assert session["success_url"] == "http://payments.test/sslcommerz/success"
    unknown = api_client.post(
        "/v1/billing/checkout", headers=buyer.headers, json={"provider": "sslcommerz", "package": "nope"}
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "unknown_package")


def test_a_refused_session_does_not_show_the_providers_reason(
    api_client: httpx.Client, buyer: User, fake_ssl: tuple[FakeSslCommerz, str]
) -> None:
    fake, _ = fake_ssl
    fake.refuse_sessions = True
    try:
        response = api_client.post(
            "/v1/billing/checkout", headers=buyer.headers, json={"provider": "sslcommerz", "package": PACKAGE}
        )
    finally:
        fake.refuse_sessions = False
    assert response.status_code >= 500 and response.json()["error"]["code"] == "payment_provider_error"
    assert "Store Credential" not in response.text  # logged for us, never shown to the buyer


def test_the_ipn_and_the_redirect_at_once_credit_once(
    api_client: httpx.Client, buyer: User, fake_ssl: tuple[FakeSslCommerz, str], function: Any
) -> None:
    fake = fake_ssl[0]
    tran_id = checkout(api_client, buyer, fake)
    form = fake.pay(tran_id)

    def send(path: str) -> Any:
        return function.test_client().post(path, data=form)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(send, ["/sslcommerz/ipn", "/sslcommerz/success", "/sslcommerz/ipn"]))
    assert [a.status_code for a in answers] == [200, 303, 200]
    # The delivery that lost the race reports the order as it stands: paid, or still being confirmed.
    assert {a.get_json()["state"] for a in answers[::2]} <= {"paid", "pending"}
    assert answers[1].headers["Location"] in (
        "http://app.test/billing?checkout=success",
        "http://app.test/billing?checkout=pending",
    )
    assert (doc("orders", tran_id) or {})["state"] == "paid"
    assert send("/sslcommerz/success").headers["Location"] == "http://app.test/billing?checkout=success"
    assert fake.validation_calls.count(form["val_id"]) == 1  # validated once, by the delivery that won
    state = invariants(buyer.user_id)
    assert state["available"] == WELCOME + PACKAGE_CREDITS
    assert [e["ref"] for e in purchases(buyer.user_id)] == [f"sslcommerz:{tran_id}"]
    assert ipn(function, form).get_json()["state"] == "paid"  # later deliveries: nothing more
    assert invariants(buyer.user_id)["available"] == WELCOME + PACKAGE_CREDITS


def test_an_amount_off_by_half_grants_nothing(
    api_client: httpx.Client, buyer: User, fake_ssl: tuple[FakeSslCommerz, str], function: Any
) -> None:
    fake = fake_ssl[0]
    tran_id = checkout(api_client, buyer, fake)
    answer = ipn(function, fake.pay(tran_id, amount="499.50"))
    assert (answer.status_code, answer.get_json()["state"]) == (200, "mismatched")
    assert (doc("orders", tran_id) or {})["state"] == "mismatched"
    assert invariants(buyer.user_id)["available"] == WELCOME
    assert purchases(buyer.user_id) == []
    # The same amount written differently is the same amount (exact Decimal compare).
    tran_id = checkout(api_client, buyer, fake)
    assert ipn(function, fake.pay(tran_id, amount="500.0")).get_json()["state"] == "paid"
    assert invariants(buyer.user_id)["available"] == WELCOME + PACKAGE_CREDITS


def test_the_wrong_currency_grants_nothing(
    api_client: httpx.Client, buyer: User, fake_ssl: tuple[FakeSslCommerz, str], function: Any
) -> None:
    fake = fake_ssl[0]
    tran_id = checkout(api_client, buyer, fake)
    answer = ipn(function, fake.pay(tran_id, currency="USD"))
    assert answer.get_json()["state"] == "mismatched"
    assert invariants(buyer.user_id)["available"] == WELCOME
    assert purchases(buyer.user_id) == []


def test_a_validation_timeout_grants_nothing_and_a_retry_grants(
    api_client: httpx.Client, buyer: User, fake_ssl: tuple[FakeSslCommerz, str], function: Any
) -> None:
    fake = fake_ssl[0]
    tran_id = checkout(api_client, buyer, fake)
    form = fake.pay(tran_id)
    fake.stall.add(form["val_id"])
    started = time.monotonic()
    answer = ipn(function, form)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "payment_provider_unavailable"
    assert time.monotonic() - started < 4
    redirect = function.test_client().post("/sslcommerz/success", data=form)
    assert redirect.headers["Location"] == "http://app.test/billing?checkout=pending"
    assert (doc("orders", tran_id) or {})["state"] == "pending"
    assert invariants(buyer.user_id)["available"] == WELCOME

    fake.stall.discard(form["val_id"])
    assert ipn(function, form).get_json()["state"] == "paid"
    assert invariants(buyer.user_id)["available"] == WELCOME + PACKAGE_CREDITS


def test_a_bad_verify_sign_is_refused_before_any_validation(
    api_client: httpx.Client, buyer: User, fake_ssl: tuple[FakeSslCommerz, str], function: Any
) -> None:
    fake = fake_ssl[0]
    tran_id = checkout(api_client, buyer, fake)
    form = fake.pay(tran_id)
    calls = len(fake.validation_calls)
    for forged in ({**form, "amount": "5000.00"}, {**form, "verify_sign": "0" * 32}, {"tran_id": tran_id}):
        answer = ipn(function, forged)
        assert answer.status_code == 400, answer.get_data(as_text=True)
    assert len(fake.validation_calls) == calls
    assert (doc("orders", tran_id) or {})["state"] == "pending"
    assert invariants(buyer.user_id)["available"] == WELCOME


def test_the_reconciler_confirms_an_order_whose_validation_timed_out(
    api_client: httpx.Client,
    buyer: User,
    fake_ssl: tuple[FakeSslCommerz, str],
    function: Any,
    keys: Secrets,
) -> None:
    fake, _ = fake_ssl
    tran_id = checkout(api_client, buyer, fake)
    form = fake.pay(tran_id)
    fake.stall.add(form["val_id"])
    assert ipn(function, form).status_code == 503
    assert (doc("orders", tran_id) or {})["val_id"] == form["val_id"]
    fake.stall.discard(form["val_id"])

    async def recheck() -> dict[str, int]:  # what the reconciler runs, wired as the reconciler is
        reconciler = build_reconciler(get_settings())
        try:
            return await reconciler.recheck_orders()
        finally:
            await reconciler.close()

    assert asyncio.run(recheck()).get("paid", 0) >= 1
    assert asyncio.run(recheck()).get("paid", 0) == 0  # nothing left to confirm
    assert (doc("orders", tran_id) or {})["state"] == "paid"
    assert invariants(buyer.user_id)["available"] == WELCOME + PACKAGE_CREDITS
    assert ipn(function, form).get_json()["state"] == "paid"
    assert invariants(buyer.user_id)["available"] == WELCOME + PACKAGE_CREDITS


def test_a_risky_payment_is_held_for_review_not_granted(
    api_client: httpx.Client, buyer: User, fake_ssl: tuple[FakeSslCommerz, str], function: Any
) -> None:
    fake = fake_ssl[0]
    tran_id = checkout(api_client, buyer, fake)
    form = fake.pay(tran_id, risk_level="1")
    answer = ipn(function, form)
    assert (answer.status_code, answer.get_json()["state"]) == (200, "review")
    order = doc("orders", tran_id) or {}
    assert (order["state"], order["val_id"]) == ("review", form["val_id"])
    assert "risk" in order["reason"]
    redirect = function.test_client().post("/sslcommerz/success", data=form)
    assert redirect.status_code == 303
    assert invariants(buyer.user_id)["available"] == WELCOME
    assert purchases(buyer.user_id) == []
    # A safe payment of another order still grants as before.
    tran_id = checkout(api_client, buyer, fake)
    assert ipn(function, fake.pay(tran_id, risk_level="0")).get_json()["state"] == "paid"
    assert invariants(buyer.user_id)["available"] == WELCOME + PACKAGE_CREDITS
