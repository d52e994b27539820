"""Paid credits: a purchase granted once per external payment, and clawbacks (refunds, disputes).

Each payment has a document `payments/{id}` (id derived from the provider and its payment id) that
says whether its credits were granted and which clawbacks were seen. A clawback takes back the share
of the payment's credits that its claim is of the amount paid; what the wallet no longer has becomes
debt (never a negative balance). Claims are kept by name and only grow: Stripe reports a charge's
refunds as a running total (`amount_refunded`), so the refund claim is the largest total seen and each
event claws back only what the claims add beyond what was already taken.

Events arrive out of order: a clawback for a payment not granted yet is recorded as pending on the
payment document, and the purchase, when it arrives, grants and applies it in the same transaction.
Every purchase and every clawback is one transaction over the payment and wallet documents.

A purchase may expire (`expires_at`: a subscription's allotment for one billing period): what is
left of it after paying debt forms a lot (shared/ledger/lots.py). A clawback takes back a purchase's
credits: from the purchase's own lot if it has one, then from the wallet's non-expiring credits
(top-ups do not expire), then from the other lots (soonest-expiring first); the rest is debt.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from shared import clock
from shared.audit import trail as audit
from shared.audit.trail import AuditTrail
from shared.errors import BadRequest
from shared.ids import stable_id
from shared.ledger.ledger import Ledger
from shared.ledger.lots import check_expiry, lot_id
from shared.ledger.records import WalletState
from shared.ledger.wallet_docs import WalletDocs

log = logging.getLogger("credits.purchases")

PAYMENTS = "payments"


@dataclass(frozen=True)
class PaymentOutcome:
    """What one call did. `applied` is False for a replay (the external id was seen before)."""

    applied: bool
    state: str  # "granted" or "pending" (only clawbacks known so far)
    wallet_id: str | None
    granted: int = 0  # credits granted by this call
    taken: int = 0  # credits taken back from the wallet by this call
    debt: int = 0  # credits this call added to the wallet's debt


def payment_key(provider: str, payment_id: str) -> str:
    return stable_id("payment", provider, payment_id)


def share(credits: int, claimed_minor: int, paid_minor: int) -> int:
    """The credits a claim of `claimed_minor` takes back from a payment of `paid_minor` (rounded down)."""
    if claimed_minor <= 0:
        return 0
    if paid_minor <= 0 or claimed_minor >= paid_minor:
        return credits
    return credits * claimed_minor // paid_minor


class Purchases:
    def __init__(self, db: firestore.AsyncClient, ledger: Ledger) -> None:
        self._db = db
        # The wallet documents are the ledger's: written through its one writer, in its per-wallet turns.
        self._tx: WalletDocs = ledger.docs
        self.audit = AuditTrail(db)

    async def purchase(
        self,
        provider: str,
        payment_id: str,
        wallet_id: str,
        credits: int,
        paid_minor: int,
        currency: str,
        *,
        expires_at: dt.datetime | None = None,
    ) -> PaymentOutcome:
        """Grant `credits` to `wallet_id` once per (provider, payment_id), paying debt first, then apply
        any clawback that arrived before the payment. With `expires_at`, the credits left after paying
        debt expire then (at once if that time has passed)."""
        if credits <= 0 or paid_minor <= 0 or not payment_id or not wallet_id:
            raise BadRequest("A purchase needs a payment id, a wallet, and positive credits and amount.")
        check_expiry(expires_at)
        key = payment_key(provider, payment_id)
        pay_ref = self.payment_ref(key)
        wallet_ref = self._tx.wallet(wallet_id)
        ref = f"{provider}:{payment_id}"
        details: dict[str, audit.Detail] = {
            "credits": credits,
            "paid_minor": paid_minor,
            "currency": currency,
        }
        item = audit.entry(
            "payment.granted", f"system:{provider}", key=key, wallet_id=wallet_id, target=ref, details=details
        )

        async def body(tx: Any) -> PaymentOutcome:
            pay_snap, wallet_snap = await self._tx.read(tx, pay_ref, wallet_ref)
            doc = pay_snap.to_dict() or {}
            if doc.get("state") == "granted":
                return PaymentOutcome(False, "granted", doc.get("wallet_id"))
            at = clock.now()
            wallet = WalletState.from_doc(wallet_snap.to_dict())
            written = wallet.expire_lots(at)
            self._tx.credit(tx, wallet_id, wallet, "purchase", credits, ref, at, expires_at)
            if expires_at is not None:
                doc["lot"] = lot_id("purchase", ref)
            doc.update(
                provider=provider,
                payment_id=payment_id,
                wallet_id=wallet_id,
                state="granted",
                credits=credits,
                paid_minor=paid_minor,
                currency=currency,
                granted_at=at,
            )
            taken = debt = 0
            claims: dict[str, int] = {}
            for clawback in doc.get("clawbacks", []):  # all pending: they came before the payment
                claims[clawback["claim"]] = max(claims.get(clawback["claim"], 0), clawback["minor"])
                t, d = self._claw(tx, doc, wallet, wallet_id, clawback, sum(claims.values()), at)
                taken, debt = taken + t, debt + d
            written += wallet.expire_lots(at)
            self._tx.add_entries(tx, wallet_id, written)
            doc["updated_at"] = at
            tx.set(pay_ref, doc)
            self._tx.set_wallet(tx, wallet_id, wallet, at)
            self.audit.add(tx, item)
            return PaymentOutcome(True, "granted", wallet_id, credits, taken, debt)

        outcome = await self._tx.run(wallet_id, body)
        if outcome.applied:
            audit.emit(item)
        log.info(
            "purchase granted" if outcome.applied else "purchase replayed",
            extra={"wallet_id": wallet_id, "payment": ref, "credits": credits, "taken": outcome.taken},
        )
        return outcome

    async def claw_back(
        self,
        provider: str,
        payment_id: str,
        clawback_id: str,
        claim: str,
        minor: int,
        wallet_id: str | None = None,
    ) -> PaymentOutcome:
        """Take back, once per `clawback_id`, what the payment's claims now cover beyond what was taken.

        `claim` names what is claimed ("refund" for a running refund total, "dispute:<id>" for a
        dispute) and `minor` is its amount in the payment's currency. `wallet_id` is only a hint for a
        payment not granted yet; a granted payment's own wallet is used.
        """
        if not clawback_id or not claim or minor <= 0:
            raise BadRequest("A clawback needs its own id, a claim name and a positive amount.")
        key = payment_key(provider, payment_id)
        pay_ref = self.payment_ref(key)

        async def body(tx: Any) -> PaymentOutcome:
            (pay_snap,) = await self._tx.read(tx, pay_ref)
            doc = pay_snap.to_dict() or {"provider": provider, "payment_id": payment_id, "state": "pending"}
            owner = doc.get("wallet_id") or wallet_id
            if any(c["id"] == clawback_id for c in doc.get("clawbacks", [])):
                return PaymentOutcome(False, doc["state"], owner)
            at = clock.now()
            clawback = {"id": clawback_id, "claim": claim, "minor": minor, "state": "pending", "at": at}
            doc.setdefault("clawbacks", []).append(clawback)
            doc["updated_at"] = at
            if doc["state"] != "granted":
                doc["wallet_id"] = owner
                tx.set(pay_ref, doc)
                return PaymentOutcome(True, "pending", owner)
            owner = str(doc["wallet_id"])  # a granted payment always has its wallet
            (wallet_snap,) = await self._tx.read(tx, self._tx.wallet(owner))
            wallet = WalletState.from_doc(wallet_snap.to_dict())
            self._tx.add_entries(tx, owner, wallet.expire_lots(at))
            claims: dict[str, int] = {}
            for seen in doc["clawbacks"]:
                claims[seen["claim"]] = max(claims.get(seen["claim"], 0), seen["minor"])
            taken, debt = self._claw(tx, doc, wallet, owner, clawback, sum(claims.values()), at)
            tx.set(pay_ref, doc)
            self._tx.set_wallet(tx, owner, wallet, at)
            item = clawed(owner, taken, debt)
            self.audit.add(tx, item)
            entries.append(item)
            return PaymentOutcome(True, "granted", owner, 0, taken, debt)

        def clawed(owner: str, taken: int, debt: int) -> audit.AuditEntry:
            details: dict[str, audit.Detail] = {"claim": claim, "minor": minor, "taken": taken, "debt": debt}
            return audit.entry(
                "payment.clawback",
                f"system:{provider}",
                key=f"{key}:{clawback_id}",
                wallet_id=owner,
                target=f"{provider}:{payment_id}",
                details=details,
            )

        entries: list[audit.AuditEntry] = []
        outcome = await self._tx.run(wallet_id or key, body)
        for done in entries[-1:]:
            audit.emit(done)
        log.info(
            "clawback applied" if outcome.applied else "clawback replayed",
            extra={
                "payment": f"{provider}:{payment_id}",
                "clawback": clawback_id,
                "state": outcome.state,
                "taken": outcome.taken,
                "debt": outcome.debt,
            },
        )
        return outcome

    def payment_ref(self, key: str) -> Any:
        """The payment document `payments/{key}` (key: payment_key(provider, payment id))."""
        return self._db.collection(PAYMENTS).document(key)

    async def payment(self, provider: str, payment_id: str) -> dict[str, Any] | None:
        snap = await self.payment_ref(payment_key(provider, payment_id)).get()
        return snap.to_dict() if snap.exists else None

    def _claw(
        self,
        tx: Any,
        doc: dict[str, Any],
        wallet: WalletState,
        wallet_id: str,
        clawback: dict[str, Any],
        claimed_minor: int,
        at: dt.datetime,
    ) -> tuple[int, int]:
        """Apply one clawback of a granted payment: (credits taken, credits added to debt)."""
        due = share(doc["credits"], claimed_minor, doc["paid_minor"]) - doc.get("clawed", 0)
        clawback.update(state="applied", credits=max(due, 0))
        if due <= 0:
            return 0, 0
        taken = min(wallet.available, due)
        own = wallet.take_lot(doc["lot"], taken) if doc.get("lot") else 0
        wallet.take(taken - own, lots_first=False)
        wallet.clawed_back += taken
        wallet.debt += due - taken
        doc["clawed"] = doc.get("clawed", 0) + due
        entry = wallet.entry("clawback", -taken, clawback["id"], at, claimed=due, debt_after=wallet.debt)
        self._tx.add_entry(tx, wallet_id, "clawback", clawback["id"], entry)
        return taken, due - taken
