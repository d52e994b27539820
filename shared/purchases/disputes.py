"""Won disputes: what a dispute clawed back comes back, once per dispute.

A dispute's clawback is recorded on its payment (`payments/{id}`, see purchases.py) with the credits it
claimed (`credits`: what it took from the wallet plus what it added to the debt). When the dispute is
won, one transaction over the payment and its wallet grants those credits back as an entry of kind
`dispute_won` and, like every grant, pays the wallet's debt first: so the debt the dispute created is
cancelled (or, if a later purchase paid it meanwhile, those credits come back as available). The ledger
invariant holds as for any grant followed by a debt payment. Credits of an expiring purchase (an
allotment) come back into its lot, with its expiry: at once expired if its period is over.

The clawback is then marked `reversed` and its claim set to 0, so that a later refund of the same
payment does not count the won dispute again. A dispute won before its clawback (or its payment) was
seen records the reversal first: the clawback, when it comes, is a replay and takes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared import clock
from shared.audit import trail as audit
from shared.errors import BadRequest
from shared.ledger.ledger import Ledger
from shared.ledger.lots import lot_id
from shared.ledger.records import WalletState
from shared.ledger.wallet_docs import WalletDocs
from shared.purchases.payments import Purchases, payment_key

log = logging.getLogger("credits.disputes")

KIND = "dispute_won"


@dataclass(frozen=True)
class Reversal:
    """What one call did. `applied` is False for a replay (the dispute was reversed before)."""

    applied: bool
    state: str  # "reversed" (credits given back), "recorded" (nothing taken yet), "replayed"
    wallet_id: str | None
    credits: int = 0  # credits given back by this call
    debt_paid: int = 0  # of which went to the wallet's debt


class Disputes:
    def __init__(self, purchases: Purchases, ledger: Ledger) -> None:
        # The payment documents are the purchases'; the wallet documents the ledger's one writer's.
        self._purchases = purchases
        self._tx: WalletDocs = ledger.docs

    async def won(self, provider: str, payment_id: str, dispute_id: str) -> Reversal:
        """Give back, once per dispute, what the dispute `dispute_id` of the payment clawed back."""
        if not payment_id or not dispute_id:
            raise BadRequest("A won dispute needs its payment id and its own id.")
        key = payment_key(provider, payment_id)
        pay_ref = self._purchases.payment_ref(key)

        async def body(tx: Any) -> Reversal:
            (pay_snap,) = await self._tx.read(tx, pay_ref)
            doc = pay_snap.to_dict() or {"provider": provider, "payment_id": payment_id, "state": "pending"}
            clawbacks: list[dict[str, Any]] = doc.setdefault("clawbacks", [])
            found = next((c for c in clawbacks if c.get("id") == dispute_id), None)
            if found is not None and found.get("state") == "reversed":
                return Reversal(False, "replayed", doc.get("wallet_id"))
            at = clock.now()
            if found is None:
                found = {"id": dispute_id, "claim": f"dispute:{dispute_id}", "minor": 0, "at": at}
                clawbacks.append(found)
            credits = int(found.get("credits", 0)) if found.get("state") == "applied" else 0
            found.update(
                state="reversed",
                reversed_minor=int(found.get("minor", 0)),
                minor=0,
                reversed_credits=credits,
                reversed_at=at,
            )
            doc["updated_at"] = at
            if credits <= 0 or doc.get("state") != "granted":
                tx.set(pay_ref, doc)
                return Reversal(True, "recorded", doc.get("wallet_id"))
            wallet_id = str(doc["wallet_id"])
            wallet_ref = self._tx.wallet(wallet_id)
            purchase_ref = self._tx.entry(wallet_id, "purchase", f"{provider}:{payment_id}")
            wallet_snap, purchase_snap = await self._tx.read(tx, wallet_ref, purchase_ref)
            wallet = WalletState.from_doc(wallet_snap.to_dict())
            written = wallet.expire_lots(at)
            wallet.available += credits
            wallet.granted += credits
            self._tx.add_entry(tx, wallet_id, KIND, dispute_id, wallet.entry(KIND, credits, dispute_id, at))
            debt_before = wallet.debt
            self._tx.pay_debt(tx, wallet_id, wallet, f"{KIND}:{dispute_id}", at)
            expires_at = (purchase_snap.to_dict() or {}).get("expires_at")
            if expires_at is not None:  # an expiring purchase's credits come back expiring, as they were
                ref = f"{provider}:{payment_id}"
                wallet.add_lot(
                    doc.get("lot") or lot_id("purchase", ref),
                    credits - (debt_before - wallet.debt),
                    expires_at,
                )
                written += wallet.expire_lots(at)  # at once, if its period is over
            self._tx.add_entries(tx, wallet_id, written)
            doc["clawed"] = int(doc.get("clawed", 0)) - credits
            tx.set(pay_ref, doc)
            self._tx.set_wallet(tx, wallet_id, wallet, at)
            item = audit.entry(
                "dispute.won",
                f"system:{provider}",
                key=f"{key}:{dispute_id}",
                wallet_id=wallet_id,
                target=f"{provider}:{payment_id}",
                details={"dispute": dispute_id, "credits": credits},
            )
            self._purchases.audit.add(tx, item)
            entries.append(item)
            return Reversal(True, "reversed", wallet_id, credits, debt_before - wallet.debt)

        entries: list[audit.AuditEntry] = []
        outcome = await self._tx.run(key, body)
        for done in entries[-1:]:
            audit.emit(done)
        log.info(
            "dispute won" if outcome.applied else "won dispute replayed",
            extra={
                "payment": f"{provider}:{payment_id}",
                "dispute": dispute_id,
                "state": outcome.state,
                "credits": outcome.credits,
                "debt_paid": outcome.debt_paid,
            },
        )
        return outcome
