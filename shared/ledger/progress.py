"""A lease's progress on its hold: what its calls have used so far, written with their usage records.

A lease (shared/spending/leases.py) is an ordinary pending hold that an instance admits many calls from
in memory. Every flush writes, in ONE transaction on the hold's wallet, the hold's `used` (absolute: the
credits its settled calls cost so far), a strictly increasing `progress_seq`, a later `expires_at`, and
the usage records of the calls settled since the last flush. So a record reaches Firestore together with
the progress that charges it, or neither does.

`used` is the floor of what finishing the hold charges (Ledger._finish): when the instance dies, the
reconciler's expiry charges what was flushed, and only what was settled in memory since then is lost.
A commit applied whose answer was lost is retried with a higher seq and the same or a larger `used`:
`used` is absolute and the records have deterministic ids, so nothing is counted twice; an older seq
arriving after a newer one changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from shared import clock
from shared.errors import BadRequest
from shared.ledger.errors import HoldNotFound
from shared.ledger.records import hold_from_doc
from shared.ledger.schemas import Hold
from shared.ledger.wallet_docs import WalletDocs

# Extra documents written in the same transaction: (document reference, fields), e.g. usage records.
Writes = Sequence[tuple[Any, dict[str, Any]]]


async def record_progress(
    docs: WalletDocs, wallet_id: str, hold_id: str, used: int, seq: int, ttl_s: int, writes: Writes
) -> Hold:
    """Record that the hold's calls used `used` credits (as of flush `seq`), keep it `ttl_s` seconds
    more, and write `writes`. A hold that is no longer pending keeps its state and money (a settle after
    the reconciler expired it charges late); the writes are still made. Returns the hold as stored."""
    if ttl_s <= 0 or seq <= 0:
        raise BadRequest(f"Progress needs a positive ttl and seq (got ttl_s={ttl_s}, seq={seq}).")
    hold_ref = docs.hold(wallet_id, hold_id)

    async def body(tx: Any) -> Hold:
        (hold_snap,) = await docs.read(tx, hold_ref)
        if not hold_snap.exists:
            raise HoldNotFound(hold_id)
        doc = hold_snap.to_dict()
        hold = hold_from_doc(hold_id, doc)
        if not 0 <= used <= hold.amount:
            raise BadRequest(f"A lease cannot have used {used} of a {hold.amount}-credit hold.")
        if seq <= int(doc.get("progress_seq", 0)):
            return hold  # a replay of a flush already applied (or older than one): nothing changes
        for ref, fields in writes:
            tx.set(ref, fields)
        if hold.state != "pending":
            return hold
        at = clock.now()
        until = max(hold.expires_at, at + dt.timedelta(seconds=ttl_s))
        fields = {"used": max(used, int(doc.get("used", 0))), "progress_seq": seq, "expires_at": until}
        docs.update_hold(tx, wallet_id, hold_id, fields | {"progress_at": at})
        return hold.model_copy(update={"expires_at": until})

    return await docs.run(wallet_id, body)
