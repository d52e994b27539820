"""The payments function: Stripe webhooks and SSLCommerz notifications, routed by path.

POST /stripe                     Stripe webhook events (Stripe-Signature verified)
POST /sslcommerz/ipn             SSLCommerz IPN (verify_sign, then the validation API)
GET|POST /sslcommerz/success     the buyer's browser back from SSLCommerz: confirms like the IPN, then
                                 redirects to the app; /sslcommerz/fail and /sslcommerz/cancel redirect
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import flask
import functions_framework

from shared.bootstrap import Payments, build_payments
from shared.loop_thread import Once, Served
from shared.purchases.webhooks import Answer, PaymentWebhooks
from shared.telemetry import metrics

_instance: Once[Served[Payments]] = Once(lambda settings: Served(settings, build_payments))


def _run(provider: str, call: Callable[[PaymentWebhooks], Coroutine[Any, Any, Answer]]) -> Answer:
    served = _instance.get()
    status, body = served.loop.run(call(served.services.buying.webhooks))
    metrics.WEBHOOKS.add(1, {"provider": provider, "status": status, "outcome": _outcome(status, body)})
    return status, body


def _outcome(status: int, body: dict[str, Any]) -> str:
    """A short name of what happened, for the webhooks metric (no ids)."""
    if body.get("duplicate"):
        return "duplicate"
    for key in ("outcome", "state"):
        if isinstance(body.get(key), str):
            return str(body[key])
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    return f"http_{status}"


def _json(answer: Answer) -> flask.Response:
    status, body = answer
    response = flask.jsonify(body)
    response.status_code = status
    return response


def _redirect(outcome: str) -> Any:
    settings = _instance.get().settings
    return flask.redirect(f"{settings.billing_return_url}?checkout={outcome}", code=303)


@functions_framework.http
def payments(request: flask.Request) -> Any:
    path = request.path.rstrip("/")
    if path == "/stripe" and request.method == "POST":
        body, headers = request.get_data(), dict(request.headers)
        return _json(_run("stripe", lambda hooks: hooks.stripe(headers, body)))
    form = {**request.args.to_dict(), **request.form.to_dict()}
    if path == "/sslcommerz/ipn" and request.method == "POST":
        return _json(_run("sslcommerz", lambda hooks: hooks.sslcommerz(form)))
    if path == "/sslcommerz/success":
        status, answer = _run("sslcommerz", lambda hooks: hooks.sslcommerz(form))
        state = answer.get("state")
        refused = state in ("mismatched", "failed") or 400 <= status < 500
        return _redirect("success" if state == "paid" else "failed" if refused else "pending")
    if path in ("/sslcommerz/fail", "/sslcommerz/cancel"):
        return _redirect(path.rsplit("/", 1)[1])
    return _json(
        (404, {"error": {"type": "not_found_error", "code": "not_found", "message": "No such route."}})
    )
