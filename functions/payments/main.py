"""The payments function: Stripe webhooks and SSLCommerz notifications, routed by path.

POST /stripe                     Stripe webhook events (Stripe-Signature verified)
POST /sslcommerz/ipn             SSLCommerz IPN (verify_sign, then the validation API)
GET|POST /sslcommerz/success     the buyer's browser back from SSLCommerz: confirms like the IPN, then
                                 redirects to the app; /sslcommerz/fail and /sslcommerz/cancel redirect
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any

import flask
import functions_framework

from shared.bootstrap import Payments, build_payments
from shared.logs import configure_logging
from shared.loop_thread import LoopThread
from shared.purchases.webhooks import Answer, PaymentWebhooks
from shared.settings import Settings, get_settings


class Instance:
    """One serving instance: its event loop and the payment services built in it, once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = LoopThread()
        self.payments: Payments = self.loop.run(_build(settings))

    def run(self, call: Callable[[PaymentWebhooks], Coroutine[Any, Any, Answer]]) -> Answer:
        return self.loop.run(call(self.payments.buying.webhooks))


async def _build(settings: Settings) -> Payments:
    return build_payments(settings)


_instance: Instance | None = None
_lock = threading.Lock()


def instance() -> Instance:
    global _instance
    with _lock:
        if _instance is None:
            settings = get_settings()
            configure_logging(settings.log_level)
            _instance = Instance(settings)
        return _instance


def _run(call: Callable[[PaymentWebhooks], Coroutine[Any, Any, Answer]]) -> Answer:
    return instance().run(call)


def _json(answer: Answer) -> flask.Response:
    status, body = answer
    response = flask.jsonify(body)
    response.status_code = status
    return response


def _redirect(outcome: str) -> Any:
    settings = instance().settings
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
