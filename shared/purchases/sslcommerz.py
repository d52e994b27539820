"""The SSLCommerz adapter: start a payment session, and ask the validation API about a payment."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import httpx

from shared.errors import UpstreamError
from shared.purchases.errors import ProviderUnavailable

SESSION_PATH = "/gwprocess/v4/api.php"
VALIDATION_PATH = "/validator/api/validationserverAPI.php"

log = logging.getLogger("billing.sslcommerz")


class SslCommerz:
    def __init__(self, api_base: str, store_id: str, store_password: str, timeout_s: float) -> None:
        self._base = api_base.rstrip("/")
        self._store_id = store_id
        self._password = store_password
        self._timeout = timeout_s

    async def start_session(
        self, tran_id: str, amount: Decimal, currency: str, urls: dict[str, str], customer: dict[str, str]
    ) -> str:
        """The gateway page URL the buyer is sent to."""
        form = {
            "store_id": self._store_id,
            "store_passwd": self._password,
            "total_amount": str(amount),
            "currency": currency,
            "tran_id": tran_id,
            "product_category": "credits",
            "product_name": "AI credits",
            "product_profile": "non-physical-goods",
            "shipping_method": "NO",
            **urls,
            **customer,
        }
        body = await self._call("POST", SESSION_PATH, data=form)
        url = body.get("GatewayPageURL")
        if body.get("status") != "SUCCESS" or not url:
            # The provider's own words go to the logs, not to the buyer (they may name store settings).
            log.warning("sslcommerz refused a session", extra={"reason": str(body.get("failedreason"))[:500]})
            raise UpstreamError(
                "SSLCommerz could not start the payment; try again later or pay with another method.",
                code="payment_provider_error",
            )
        return str(url)

    async def validate(self, val_id: str) -> dict[str, Any]:
        """The validation API's answer for `val_id` (status VALID / VALIDATED means paid)."""
        params = {
            "val_id": val_id,
            "store_id": self._store_id,
            "store_passwd": self._password,
            "format": "json",
        }
        return await self._call("GET", VALIDATION_PATH, params=params)

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.request(method, self._base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("SSLCommerz did not answer in time; retry shortly.") from exc
        if response.status_code >= 500:
            raise ProviderUnavailable(f"SSLCommerz answered {response.status_code}; retry shortly.")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise UpstreamError("SSLCommerz answered something that is not JSON.") from exc
        return body
