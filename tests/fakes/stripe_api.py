"""A local fake of the two Stripe API endpoints we call (Checkout Sessions, portal sessions), reached
through the real stripe library with its api base pointed here. It records what it was sent."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class FakeStripe:
    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.app = FastAPI()
        self.app.post("/v1/checkout/sessions")(self._checkout)
        self.app.post("/v1/billing_portal/sessions")(self._portal)

    async def _form(self, request: Request, path: str) -> dict[str, str] | JSONResponse:
        if request.headers.get("authorization") != f"Bearer {self.secret_key}":
            error = {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
            return JSONResponse(error, status_code=401)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.requests.append((path, form))
        return form

    async def _checkout(self, request: Request) -> Any:
        form = await self._form(request, "checkout")
        if isinstance(form, JSONResponse):
            return form
        session_id = "cs_test_" + uuid.uuid4().hex
        return {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "client_reference_id": form.get("client_reference_id"),
        }

    async def _portal(self, request: Request) -> Any:
        form = await self._form(request, "portal")
        if isinstance(form, JSONResponse):
            return form
        return {
            "id": "bps_" + uuid.uuid4().hex,
            "object": "billing_portal.session",
            "customer": form["customer"],
            "url": f"https://billing.stripe.test/p/session/{uuid.uuid4().hex}",
        }
