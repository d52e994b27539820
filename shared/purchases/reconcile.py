"""The reconciler's billing sweep: confirm SSLCommerz orders whose validation failed when notified."""

from __future__ import annotations

import logging

from shared.adapters.firestore import async_client
from shared.adapters.secrets import SecretSource, secret_source
from shared.purchases.orders import Orders
from shared.purchases.sslcommerz import SslCommerz
from shared.settings import Settings

log = logging.getLogger("billing.reconcile")


async def recheck_orders(settings: Settings, secrets: SecretSource | None = None) -> dict[str, int]:
    """One batch of pending orders re-validated; counts by resulting state. Nothing to do without a store."""
    secrets = secrets or secret_source(settings)
    password = secrets.get("SSLCOMMERZ_STORE_PASSWORD")
    if not settings.sslcommerz_store_id or not password:
        return {}
    gateway = SslCommerz(
        settings.sslcommerz_api_base, settings.sslcommerz_store_id, password, settings.sslcommerz_timeout_s
    )
    db = async_client(settings)
    try:
        counts = await Orders(db, gateway).recheck_pending(settings.reconcile_batch)
    finally:
        db.close()
        await db._firestore_api.transport.close()
    if counts:
        log.info("pending orders rechecked", extra=counts)
    return counts
