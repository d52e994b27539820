"""The payments function: Stripe webhooks and SSLCommerz notifications, routed by path.

POST /stripe                     Stripe webhook events (Stripe-Signature verified)
POST /sslcommerz/ipn             SSLCommerz IPN (verify_sign, then the validation API)
GET|POST /sslcommerz/success     the buyer's browser back from SSLCommerz: confirms like the IPN, then
                                 redirects to the app; /sslcommerz/fail and /sslcommerz/cancel redirect
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import flask
import functions_framework

from shared.adapters.firestore import async_client
from shared.adapters.secrets import SecretSource, secret_source
from shared.logs import configure_logging
from shared.purchases.webhooks import Answer, PaymentWebhooks
from shared.settings import Settings, get_settings


@functools.cache
def _instance() -> tuple[Settings, SecretSource]:
    settings = get_settings()
    configure_logging(settings.log_level)
    return settings, secret_source(settings)


def _run(call: Callable[[PaymentWebhooks], Awaitable[Answer]]) -> Answer:
    """Run one handler in a fresh event loop, with a Firestore client that lives in it."""
    settings, secrets = _instance()

    async def go() -> Answer:
        db = async_client(settings)
        try:
            return await call(PaymentWebhooks(db, settings, secrets))
        finally:
            db.close()
            await db._firestore_api.transport.close()

    return asyncio.run(go())


def _json(answer: Answer) -> flask.Response:
    status, body = answer
    response = flask.jsonify(body)
    response.status_code = status
    return response


def _redirect(outcome: str) -> Any:
    settings, _ = _instance()
    return flask.redirect(f"{settings.billing_return_url}?checkout={outcome}", code=303)


@functions_framework.http
def payments(request: flask.Request) -> Any:
    path = request.path.rstrip("/")
    if path == "/stripe" and request.method == "POST":
        body, headers = request.get_data(), dict(request.headers)
        return _json(_run(lambda hooks: hooks.stripe(headers, body)))
    form = {**request.args.to_dict(), **request.form.to_dict()}
    if path == "/sslcommerz/ipn" and request.method == "POST":
        return _json(_run(lambda hooks: hooks.sslcommerz(form)))
    if path == "/sslcommerz/success":
        status, answer = _run(lambda hooks: hooks.sslcommerz(form))
        state = answer.get("state")
        refused = state in ("mismatched", "failed") or 400 <= status < 500
        return _redirect("success" if state == "paid" else "failed" if refused else "pending")
    if path in ("/sslcommerz/fail", "/sslcommerz/cancel"):
        return _redirect(path.rsplit("/", 1)[1])
    return _json(
        (404, {"error": {"type": "not_found_error", "code": "not_found", "message": "No such route."}})
    )
