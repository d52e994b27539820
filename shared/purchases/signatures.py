"""Webhook signatures: Stripe's Stripe-Signature HMAC and SSLCommerz's verify_sign."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from shared.purchases.errors import BadSignature


def verify_stripe(
    header: str | None, body: bytes, secrets: Sequence[str], now: int, tolerance_s: int, skew_s: int
) -> None:
    """Raise BadSignature unless `header` signs `body` with one of `secrets` at an acceptable time.

    The header is `t=<unix time>,v1=<hex>[,v1=<hex>...]`; each v1 is HMAC-SHA256 of "<t>.<raw body>"
    under an endpoint secret. Every v1 is compared against every secret in constant time, so the old
    and the new secret both work during a rotation.
    """
    if not header:
        raise BadSignature("The Stripe-Signature header is missing.", code="missing_signature")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise BadSignature("The Stripe-Signature header has no timestamp or no v1 signature.")
    if timestamp < now - tolerance_s:
        raise BadSignature("The Stripe-Signature timestamp is too old (a replay?).", code="stale_signature")
    if timestamp > now + skew_s:
        raise BadSignature("The Stripe-Signature timestamp is in the future.", code="future_signature")
    signed = f"{timestamp}.".encode() + body
    matched = False
    for secret in secrets:
        if not secret:  # an empty secret verifies against an empty key, which anyone can forge
            continue
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        for signature in signatures:
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise BadSignature("No Stripe-Signature v1 signature matches a configured endpoint secret.")


def sslcommerz_sign(fields: Mapping[str, str], keys: Sequence[str], store_password: str) -> str:
    """SSLCommerz's verify_sign: md5 of "k=v&..." over the listed fields plus store_passwd=md5(password),
    sorted by key."""
    data = {k: fields[k] for k in keys if k in fields}
    data["store_passwd"] = hashlib.md5(store_password.encode()).hexdigest()  # noqa: S324 - their scheme
    joined = "&".join(f"{k}={data[k]}" for k in sorted(data))
    return hashlib.md5(joined.encode()).hexdigest()  # noqa: S324 - their scheme


def verify_sslcommerz(fields: Mapping[str, str], store_password: str) -> None:
    sign, keys = fields.get("verify_sign", ""), fields.get("verify_key", "")
    if not sign or not keys or not store_password:
        raise BadSignature("verify_sign and verify_key are required.", code="missing_signature")
    expected = sslcommerz_sign(fields, keys.split(","), store_password)
    if not hmac.compare_digest(expected, sign.lower()):
        raise BadSignature("verify_sign does not match the notification's fields.")
