"""The storage price of vector stores: once a UTC day the reconciler's sweep charges each store its bytes
(the sum of its files' `usage_bytes`) at the media catalog's `vector_store_gb_day`, rounded up to a whole
credit, to its owner's wallet (a workspace's for a workspace's store, its creator as the spender).

Each day's charge is a hold reserved and settled at once under a fixed id (`storage`, store, day): a
sweep run twice, or crashing between the two, charges the day once (the reconciler settles or voids what
it left). A wallet that can't pay leaves the day unpaid (it is not charged later) and marks the store
`storage_unpaid_since`; a store unpaid for `GRACE_DAYS` days in a row is deleted like an expired one. A
day paid clears the mark."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from google.cloud.firestore_v1.base_query import FieldFilter

from shared.clock import now
from shared.errors import AppError
from shared.ids import stable_id
from shared.knowledge.repository import STORES
from shared.knowledge.service import VectorStoreService, owner_principal
from shared.spending.payer import Payer

log = logging.getLogger("knowledge.storage")

GB = 1_000_000_000
GRACE_DAYS = 7
HOLD_TTL_S = 600


@dataclass
class StorageReport:
    charged: int = 0  # credits
    stores: int = 0  # stores charged
    unpaid: int = 0
    deleted: int = 0


def day_price(usage_bytes: int, gb_day: int) -> int:
    return -(-usage_bytes * gb_day // GB) if usage_bytes > 0 else 0


async def charge_storage(
    stores: VectorStoreService, payer: Payer, gb_day: int, limit: int, today: dt.date | None = None
) -> StorageReport:
    """Charge up to `limit` stores not yet charged for `today` (UTC)."""
    day = (today or now().date()).isoformat()
    report = StorageReport()
    db = stores.repo.db
    query = db.collection(STORES).where(filter=FieldFilter("charged_through", "<", day))
    async for snap in query.limit(limit).stream():
        doc = snap.to_dict() or {}
        usage = sum(int(e.get("usage_bytes") or 0) for _, e in await stores.repo.store_files(snap.id))
        credits = day_price(usage, gb_day)
        owner = owner_principal(doc)
        if credits:
            hold_id = stable_id("storage", snap.id, day)
            try:
                await payer.reserve(
                    owner.wallet_id,
                    hold_id,
                    want=credits,
                    minimum=credits,
                    ttl_s=HOLD_TTL_S,
                    ref=f"storage:{snap.id}:{day}",
                    spender=owner.user_id,
                    pinned=True,  # two sweeps at once reserve the same day's hold
                )
                await payer.settle(owner.wallet_id, hold_id, credits)
            except AppError as exc:
                since = str(doc.get("storage_unpaid_since") or day)
                overdue = (dt.date.fromisoformat(day) - dt.date.fromisoformat(since)).days >= GRACE_DAYS
                log.warning(
                    "vector store storage unpaid",
                    extra={"store_id": snap.id, "code": exc.code, "since": since, "deleted": overdue},
                )
                if overdue:
                    await stores.remove_store(owner, snap.id)
                    report.deleted += 1
                    continue
                await snap.reference.update({"charged_through": day, "storage_unpaid_since": since})
                report.unpaid += 1
                continue
            report.charged += credits
            report.stores += 1
        await snap.reference.update({"charged_through": day, "storage_unpaid_since": None})
    return report
