"""The Stripe adapter: Checkout Sessions and customer-portal sessions, through the stripe library."""

from __future__ import annotations

from typing import Any

import stripe

from shared.errors import UpstreamError
from shared.purchases.errors import ProviderUnavailable


class StripeApi:
    def __init__(self, secret_key: str, api_base: str, timeout_s: float = 20.0) -> None:
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=stripe.HTTPXClient(timeout=timeout_s),
            max_network_retries=2,
        )

    async def checkout_session(self, params: dict[str, Any]) -> str:
        session = await self._call(self._client.v1.checkout.sessions.create_async, params)
        return str(session.url)

    async def portal_session(self, customer: str, return_url: str) -> str:
        params = {"customer": customer, "return_url": return_url}
        session = await self._call(self._client.v1.billing_portal.sessions.create_async, params)
        return str(session.url)

    async def _call(self, create: Any, params: dict[str, Any]) -> Any:
        try:
            return await create(params)
        except stripe.APIConnectionError as exc:
            raise ProviderUnavailable("Stripe did not answer; retry shortly.") from exc
        except stripe.StripeError as exc:
            raise UpstreamError(
                f"Stripe refused the request: {exc.user_message or exc.code or 'no reason given'}.",
                code="payment_provider_error",
            ) from exc
