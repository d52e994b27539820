"""The reconciler's billing sweep: confirm SSLCommerz orders whose validation failed when notified."""

from __future__ import annotations

import logging

from shared.purchases.orders import Orders

log = logging.getLogger("billing.reconcile")


async def recheck_orders(orders: Orders | None, batch: int) -> dict[str, int]:
    """One batch of pending orders re-validated; counts by resulting state. Nothing to do without a store
    (`orders` is None when SSLCommerz is not configured)."""
    if orders is None:
        return {}
    counts = await orders.recheck_pending(batch)
    if counts:
        log.info("pending orders rechecked", extra=counts)
    return counts
