"""The two-phase credit ledger on Firestore.

A request reserves its worst-case cost (a pending hold moves credits from `available` to
`reserved`), then settles the actual cost (the rest goes back to `available`) or voids the hold;
the reconciler expires holds nobody finished. Every change is one Firestore transaction that
updates the wallet document and writes immutable entries whose ids are derived from their kind and
external id, so a replayed request finds its entry (or its hold) and changes nothing.

A grant may expire (`expires_at`): its credits form a lot (shared/ledger/lots.py). A reservation
draws the soonest-expiring lots first and its hold records what it drew (`drawn`), so what the hold
gives back returns to those lots, or expires if they have. Every transaction first removes the lots
due at its time; `expire_lots` sweeps the wallets nobody touches. Invariants, on every wallet:
available + reserved == granted - settled - clawed_back - expired, no counter negative,
sum(lot.left) <= available, one terminal state per hold, one entry per (kind, external id).

Transaction bodies only read and write Firestore: the client may run them several times.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections import defaultdict
from typing import Any

from google.cloud import firestore

from shared import clock
from shared.errors import BadRequest
from shared.ledger.errors import HoldNotFound, InsufficientCredits, PaymentDebt
from shared.ledger.lots import check_expiry, lot_order
from shared.ledger.progress import Writes, record_progress
from shared.ledger.records import (
    DEBIT_KINDS,
    EXPIRY_KINDS,
    HOLD_KINDS,
    WalletState,
    entry_from_doc,
    hold_from_doc,
)
from shared.ledger.schemas import Balance, EntryPage, ExpiringCredits, Hold, HoldState
from shared.ledger.wallet_docs import WalletDocs
from shared.settings import Settings
from shared.telemetry import metrics

log = logging.getLogger("credits.ledger")

SWEEP_CONCURRENCY = 16
MAX_PAGE = 200
_CURSOR = re.compile(r"^[0-9]{1,18}$")
_FINISH_KIND: dict[HoldState, str] = {"settled": "settle", "voided": "void", "expired": "expire"}
LATE_KIND = "late_charge"  # a settle after the hold expired: taken like a clawback, the rest is debt


class Ledger:
    def __init__(self, db: firestore.AsyncClient, settings: Settings) -> None:
        self._settings = settings
        self._tx = WalletDocs(db)

    @property
    def docs(self) -> WalletDocs:
        """The wallet documents' one writer, for operations built on the ledger (shard transfers,
        purchases, disputes): they run their transactions through it, under the same per-wallet turns."""
        return self._tx

    # Writes.

    async def grant(
        self,
        wallet_id: str,
        amount: int,
        external_id: str,
        kind: str = "grant",
        *,
        expires_at: dt.datetime | None = None,
    ) -> bool:
        """Add credits once per (kind, external_id); False when that id was already applied.

        Any debt on the wallet is paid from the grant first (a `debt_paid` entry in the same
        transaction). With `expires_at` what is left of the grant then forms a lot that expires then
        (at once if that time has passed).
        """
        if amount <= 0:
            raise BadRequest(f"A grant must be a positive number of credits, not {amount}.")
        if kind in HOLD_KINDS or kind in DEBIT_KINDS or kind in EXPIRY_KINDS or not kind:
            raise BadRequest(f"{kind!r} is not a grant kind.")
        if not external_id:
            raise BadRequest("A grant needs the external id that makes it idempotent.")
        check_expiry(expires_at)
        wallet_ref = self._tx.wallet(wallet_id)
        entry_ref = self._tx.entry(wallet_id, kind, external_id)

        async def body(tx: Any) -> bool:
            wallet_snap, entry_snap = await self._tx.read(tx, wallet_ref, entry_ref)
            if entry_snap.exists:
                return False
            at = clock.now()
            wallet = WalletState.from_doc(wallet_snap.to_dict())
            written = wallet.expire_lots(at)
            self._tx.credit(tx, wallet_id, wallet, kind, amount, external_id, at, expires_at)
            if expires_at is not None:
                written += wallet.expire_lots(at)
            self._tx.add_entries(tx, wallet_id, written)
            self._tx.set_wallet(tx, wallet_id, wallet, at)
            return True

        applied = await self._tx.run(wallet_id, body)
        log.info(
            "credits granted" if applied else "grant replayed",
            extra={"wallet_id": wallet_id, "amount": amount, "kind": kind, "ref": external_id},
        )
        return applied

    async def reserve(
        self,
        wallet_id: str,
        hold_id: str,
        want: int,
        minimum: int,
        ttl_s: int | None = None,
        ref: str | None = None,
    ) -> Hold:
        """Hold min(want, available) credits, or refuse when fewer than `minimum` are available.

        A hold id that already exists is returned as it is, whatever its state. The hold expires
        after `ttl_s` seconds (settings.hold_ttl_s when None or 0; a negative ttl_s makes a hold
        that is already due, which tests use).
        """
        if not 0 < minimum <= want:
            raise BadRequest(f"A reservation needs 0 < minimum <= want (got minimum={minimum}, want={want}).")
        ttl = dt.timedelta(seconds=ttl_s or self._settings.hold_ttl_s)
        wallet_ref = self._tx.wallet(wallet_id)
        hold_ref = self._tx.hold(wallet_id, hold_id)

        async def body(tx: Any) -> Hold:
            hold_snap, wallet_snap = await self._tx.read(tx, hold_ref, wallet_ref)
            if hold_snap.exists:
                return hold_from_doc(hold_id, hold_snap.to_dict())
            at = clock.now()
            wallet = WalletState.from_doc(wallet_snap.to_dict())
            written = wallet.expire_lots(at)
            if wallet.debt > 0:
                raise PaymentDebt(wallet.debt)
            if wallet.available < minimum:
                raise InsufficientCredits(minimum, wallet.available)
            amount = min(want, wallet.available)
            drawn = wallet.take(amount, lots_first=True)
            wallet.reserved += amount
            hold = {
                "wallet_id": wallet_id,
                "amount": amount,
                "state": "pending",
                "charged": 0,
                "expires_at": at + ttl,
                "created_at": at,
                "ref": ref,
                "drawn": drawn,
            }
            self._tx.set_hold(tx, wallet_id, hold_id, hold)
            self._tx.add_entry(
                tx, wallet_id, "reserve", hold_id, wallet.entry("reserve", -amount, hold_id, at)
            )
            self._tx.add_entries(tx, wallet_id, written)
            self._tx.set_wallet(tx, wallet_id, wallet, at)
            made.append(amount)
            return hold_from_doc(hold_id, hold)

        made: list[int] = []
        held = await self._tx.run(wallet_id, body)
        if made:  # a new hold (not one found from an earlier call)
            metrics.CREDITS.add(made[-1], {"op": "reserved"})
        return held

    async def settle(self, wallet_id: str, hold_id: str, amount: int) -> Hold:
        """Charge min(amount, hold) and release the rest. A finished hold is returned unchanged."""
        if amount < 0:
            raise BadRequest(f"A settlement cannot be negative (got {amount}).")
        hold, _ = await self._finish(wallet_id, hold_id, "settled", amount)
        if hold is None:
            raise HoldNotFound(hold_id)
        return hold

    async def void(self, wallet_id: str, hold_id: str) -> Hold:
        """Release a pending hold entirely. A finished hold is returned unchanged."""
        hold, _ = await self._finish(wallet_id, hold_id, "voided", 0)
        if hold is None:
            raise HoldNotFound(hold_id)
        return hold

    async def extend(self, wallet_id: str, hold_id: str, ttl_s: int) -> Hold:
        """A heartbeat of a long spend: a pending hold now expires no sooner than `ttl_s` from now, so the
        reconciler does not release credits a live stream is still using. A finished hold is unchanged."""
        if ttl_s <= 0:
            raise BadRequest(f"A hold is extended by a positive number of seconds, not {ttl_s}.")
        hold_ref = self._tx.hold(wallet_id, hold_id)

        async def body(tx: Any) -> Hold:
            (hold_snap,) = await self._tx.read(tx, hold_ref)
            if not hold_snap.exists:
                raise HoldNotFound(hold_id)
            hold = hold_from_doc(hold_id, hold_snap.to_dict())
            until = clock.now() + dt.timedelta(seconds=ttl_s)
            if hold.state != "pending" or hold.expires_at >= until:
                return hold
            self._tx.update_hold(tx, wallet_id, hold_id, {"expires_at": until})
            return hold.model_copy(update={"expires_at": until})

        return await self._tx.run(wallet_id, body)

    async def record_progress(
        self, wallet_id: str, hold_id: str, used: int, seq: int, ttl_s: int, writes: Writes = ()
    ) -> Hold:
        """A lease's flush: the hold's calls used `used` credits so far (charged at the latest when the hold
        is finished or expires), it lives `ttl_s` more seconds, and `writes` (their usage records) are
        made in the same transaction; idempotent by `seq` (shared/ledger/progress.py)."""
        return await record_progress(self._tx, wallet_id, hold_id, used, seq, ttl_s, writes)

    async def expire(self, wallet_id: str, hold_id: str) -> bool:
        """Release a pending hold past its expires_at; True if this call expired it.

        An unknown hold is not an error here: there is nothing to expire.
        """
        _, changed = await self._finish(wallet_id, hold_id, "expired", 0)
        return changed

    async def expire_due(self, limit: int | None = None) -> int:
        """Expire up to `limit` pending holds past their expiry, in every wallet; return how many.

        Wallets are swept concurrently, the holds of one wallet one after the other (they share
        the wallet document). A hold that fails is logged and left for the next sweep.
        """
        limit = limit or self._settings.reconcile_batch
        due: dict[str, list[str]] = defaultdict(list)
        async for wallet_id, hold_id in self._tx.due_holds(clock.now(), limit):
            due[wallet_id].append(hold_id)
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def sweep(wallet_id: str, hold_ids: list[str]) -> int:
            expired = 0
            async with gate:
                for hold_id in hold_ids:
                    try:
                        expired += await self.expire(wallet_id, hold_id)
                    except Exception:
                        log.exception(
                            "could not expire hold", extra={"wallet_id": wallet_id, "hold_id": hold_id}
                        )
            return expired

        counts = await asyncio.gather(*(sweep(w, ids) for w, ids in due.items()))
        return sum(counts)

    async def expire_lots(self, limit: int | None = None) -> int:
        """Expire the due lots of up to `limit` wallets (those whose next_lot_expiry has passed), each
        wallet in one transaction; return how many lots expired with credits in them."""
        limit = limit or self._settings.reconcile_batch
        wallet_ids = await self._tx.with_due_lots(clock.now(), limit)
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def sweep(wallet_id: str) -> int:
            async with gate:
                try:
                    return await self.expire_wallet_lots(wallet_id)
                except Exception:
                    log.exception("could not expire lots", extra={"wallet_id": wallet_id})
                    return 0

        return sum(await asyncio.gather(*(sweep(w) for w in wallet_ids)))

    async def expire_wallet_lots(self, wallet_id: str) -> int:
        """Remove the wallet's lots due now; how many of them still held credits (0 for a replay)."""
        wallet_ref = self._tx.wallet(wallet_id)

        async def body(tx: Any) -> int:
            (wallet_snap,) = await self._tx.read(tx, wallet_ref)
            at = clock.now()
            wallet = WalletState.from_doc(wallet_snap.to_dict())
            before = len(wallet.lots)
            written = wallet.expire_lots(at)
            if len(wallet.lots) == before:
                return 0
            self._tx.add_entries(tx, wallet_id, written)
            self._tx.set_wallet(tx, wallet_id, wallet, at)
            return len(written)

        expired = await self._tx.run(wallet_id, body)
        if expired:
            log.info("credit lots expired", extra={"wallet_id": wallet_id, "lots": expired})
        return expired

    # Reads.

    async def state(self, wallet_id: str) -> WalletState:
        """The wallet's counters as stored (debt, clawed_back, lots...), for other domains to read."""
        return await self._tx.state(wallet_id)

    async def balance(self, wallet_id: str) -> Balance:
        """What the wallet can spend now: lots past their expiry are not counted, swept or not."""
        wallet = await self._tx.state(wallet_id)
        return Balance(available=wallet.spendable(clock.now()), reserved=wallet.reserved)

    async def expiring(self, wallet_id: str) -> list[ExpiringCredits]:
        """The wallet's spendable credits that will expire, soonest first (the rest never expires)."""
        at = clock.now()
        lots = sorted((await self._tx.state(wallet_id)).lots, key=lot_order)
        return [
            ExpiringCredits(amount=lot.left, expires_at=lot.expires_at)
            for lot in lots
            if lot.left > 0 and lot.expires_at > at
        ]

    async def entries(self, wallet_id: str, limit: int = 50, cursor: str | None = None) -> EntryPage:
        """Newest first. `cursor` is the next_cursor of the previous page."""
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_PAGE}.", code="invalid_limit")
        if cursor is not None and not _CURSOR.match(cursor):
            raise BadRequest(
                "cursor is not one this API returned; pass next_cursor as is.", code="invalid_cursor"
            )
        docs = await self._tx.entry_docs(wallet_id, limit + 1, None if cursor is None else int(cursor))
        data = [entry_from_doc(entry_id, doc) for entry_id, doc in docs[:limit]]
        next_cursor = str(data[-1].seq) if len(docs) > limit else None
        return EntryPage(data=data, next_cursor=next_cursor)

    async def hold(self, wallet_id: str, hold_id: str) -> Hold | None:
        doc = await self._tx.hold_doc(wallet_id, hold_id)
        return hold_from_doc(hold_id, doc) if doc is not None else None

    # Internals.

    async def _finish(
        self, wallet_id: str, hold_id: str, state: HoldState, charge: int
    ) -> tuple[Hold | None, bool]:
        """Move a pending hold to `state`, charging min(charge, hold); (hold, whether it changed).

        A lease's hold that recorded progress (`used`, shared/ledger/progress.py) charges at least that,
        whatever finishes it: its usage records are written, so an expiry after a crash charges them."""
        kind = _FINISH_KIND[state]
        wallet_ref = self._tx.wallet(wallet_id)
        hold_ref = self._tx.hold(wallet_id, hold_id)

        async def body(tx: Any) -> tuple[Hold | None, bool]:
            hold_snap, wallet_snap = await self._tx.read(tx, hold_ref, wallet_ref)
            if not hold_snap.exists:
                return None, False
            hold_doc = hold_snap.to_dict()
            hold = hold_from_doc(hold_id, hold_doc)
            at = clock.now()
            if state == "settled" and hold.state == "expired" and charge > 0:
                return self._charge_late(tx, wallet_id, hold, hold_doc, charge, wallet_snap, at)
            if hold.state != "pending" or (state == "expired" and hold.expires_at > at):
                return hold, False
            charged = min(max(charge, int(hold_doc.get("used", 0))), hold.amount)
            released = hold.amount - charged
            wallet = WalletState.from_doc(wallet_snap.to_dict())
            written = wallet.expire_lots(at)
            gone = wallet.release(hold_doc.get("drawn") or {}, hold.amount, charged)
            wallet.reserved -= hold.amount
            wallet.settled += charged
            self._tx.update_hold(
                tx, wallet_id, hold_id, {"state": state, "charged": charged, "finished_at": at}
            )
            self._tx.add_entry(
                tx, wallet_id, kind, hold_id, wallet.entry(kind, released, hold_id, at, charged=charged)
            )
            written += wallet.expire_returned(hold_id, gone, at)
            self._tx.pay_debt(tx, wallet_id, wallet, f"{kind}:{hold_id}", at)
            self._tx.add_entries(tx, wallet_id, written)
            self._tx.set_wallet(tx, wallet_id, wallet, at)
            return hold.model_copy(update={"state": state, "charged": charged}), True

        hold, changed = await self._tx.run(wallet_id, body)
        if changed and hold is not None and hold.state == "expired" and state == "settled":
            # The reconciler released these credits before the spend ended: worth an alert.
            log.error(
                "hold settled after it expired",
                extra={"wallet_id": wallet_id, "hold_id": hold_id, "late_charged": hold.charged},
            )
        elif changed and hold is not None:
            metrics.CREDITS.add(hold.charged, {"op": "settled"})
            metrics.CREDITS.add(hold.amount - hold.charged, {"op": "released"})
            log.info(
                f"hold {state}",
                extra={
                    "wallet_id": wallet_id,
                    "hold_id": hold_id,
                    "amount": hold.amount,
                    "charged": hold.charged,
                },
            )
        return hold, changed

    def _charge_late(
        self,
        tx: Any,
        wallet_id: str,
        hold: Hold,
        hold_doc: dict[str, Any],
        charge: int,
        wallet_snap: Any,
        at: dt.datetime,
    ) -> tuple[Hold, bool]:
        """A settle that arrives after the reconciler expired the hold still charges what was used (at most
        the hold, as any settle) beyond what the expiry charged (a lease's recorded progress): from what is
        available, the rest as debt, like a clawback. The hold stays expired and records `late_charged`
        (that difference), so a replay charges nothing twice."""
        if "late_charged" in hold_doc:
            return hold, False
        used = min(charge, hold.amount) - int(hold_doc.get("charged", 0))
        if used <= 0:
            return hold, False
        wallet = WalletState.from_doc(wallet_snap.to_dict())
        written = wallet.expire_lots(at)
        taken = min(wallet.available, used)
        wallet.take(taken, lots_first=True)
        wallet.clawed_back += taken
        wallet.debt += used - taken
        entry = wallet.entry(LATE_KIND, -taken, hold.id, at, claimed=used, debt_after=wallet.debt)
        self._tx.add_entry(tx, wallet_id, LATE_KIND, hold.id, entry)
        self._tx.update_hold(tx, wallet_id, hold.id, {"late_charged": used, "late_at": at})
        self._tx.add_entries(tx, wallet_id, written)
        self._tx.set_wallet(tx, wallet_id, wallet, at)
        return hold.model_copy(update={"charged": hold.charged + used}), True
