"""Webhook signature checks: Stripe's header (as the stripe library makes it) and SSLCommerz's verify_sign."""

from __future__ import annotations

import hashlib
import secrets

import pytest
import stripe

from shared.purchases.errors import BadSignature
from shared.purchases.signatures import sslcommerz_sign, verify_sslcommerz, verify_stripe

NOW = 1_800_000_000
BODY = b'{"id": "evt_1", "type": "charge.refunded"}'


def header(secret: str, at: int = NOW, body: bytes = BODY) -> str:
    return stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=at)


def check(value: str | None, known: list[str], body: bytes = BODY) -> None:
    verify_stripe(value, body, known, NOW, tolerance_s=300, skew_s=30)


def test_stripe_accepts_any_known_secret_and_any_of_several_signatures() -> None:
    old, new, other = (f"whsec_{secrets.token_hex(8)}" for _ in range(3))
    check(header(old), [old, new])
    check(header(new), [old, new])
    both = header(other) + "," + header(new).split(",", 1)[1]
    check(both, [new])
    assert (
        stripe.Webhook.construct_event(BODY.decode(), header(new, at=NOW), new, tolerance=None).id == "evt_1"
    )


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("t=1800000000", "bad_signature"),
        ("v1=abc", "bad_signature"),
        ("t=now,v1=abc", "bad_signature"),
    ],
)
def test_stripe_malformed_headers(value: str | None, code: str) -> None:
    with pytest.raises(BadSignature) as err:
        check(value, ["whsec_x"])
    assert (err.value.status, err.value.code) == (400, code)


def test_stripe_time_window_body_and_secret() -> None:
    secret = "whsec_" + secrets.token_hex(8)
    check(header(secret, at=NOW - 300), [secret])
    check(header(secret, at=NOW + 30), [secret])
    for at, code in ((NOW - 301, "stale_signature"), (NOW + 31, "future_signature")):
        with pytest.raises(BadSignature) as err:
            check(header(secret, at=at), [secret])
        assert err.value.code == code
    with pytest.raises(BadSignature):
        check(header(secret), [secret], body=BODY + b" ")
    with pytest.raises(BadSignature):
        check(header(secret), ["whsec_other"])
    with pytest.raises(BadSignature):  # an empty secret never verifies
        check(header(""), [""])


def test_sslcommerz_verify_sign_as_documented() -> None:
    password = "store-pass"
    form = {"tran_id": "tr_1", "val_id": "v1", "amount": "500.00", "currency": "BDT", "status": "VALID"}
    form["verify_key"] = "amount,currency,status,tran_id,val_id"
    md5 = hashlib.md5(password.encode()).hexdigest()  # noqa: S324
    text = f"amount=500.00&currency=BDT&status=VALID&store_passwd={md5}&tran_id=tr_1&val_id=v1"
    form["verify_sign"] = hashlib.md5(text.encode()).hexdigest()  # noqa: S324
    assert sslcommerz_sign(form, form["verify_key"].split(","), password) == form["verify_sign"]
    verify_sslcommerz(form, password)
    for forged in ({**form, "amount": "5000.00"}, {**form, "verify_sign": "0" * 32}, {"tran_id": "tr_1"}):
        with pytest.raises(BadSignature):
            verify_sslcommerz(forged, password)
    with pytest.raises(BadSignature):
        verify_sslcommerz(form, "wrong")
