"""Disputes closed through the payments function: won gives back what the dispute clawed back (credits
and the debt it created), once per dispute whatever the deliveries; lost changes nothing; a win seen
before its dispute makes the dispute take nothing. After each: the ledger invariants and one effect per
external id."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.spending.members import WorkspaceSpending
from tests.support.ledger import ledger_settings
from tests.support.payments import (
    Secrets,
    create_workspace,
    doc,
    entries,
    invariants,
    payment_doc,
    post_event,
    register,
    run,
    shard_invariants,
    sign,
    stripe_event,
)
from tests.support.workspaces import join

CREDITS = 5_000_000  # credits-5, 500 cents


def deliver(function: Any, keys: Secrets, kind: str, obj: dict[str, Any]) -> str:
    payload = stripe_event(kind, obj)
    response = post_event(function, payload, sign(payload, keys.webhook_new))
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["outcome"])


def session(wallet_id: str, payment_intent: str) -> dict[str, Any]:
    return {
        "id": "cs_" + uuid.uuid4().hex,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": payment_intent,
        "customer": "cus_" + uuid.uuid4().hex[:8],
        "amount_total": 500,
        "currency": "usd",
        "metadata": {"wallet_id": wallet_id, "package": "credits-5"},
    }


def dispute(dispute_id: str, payment_intent: str, status: str) -> dict[str, Any]:
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": 500,
        "currency": "usd",
        "charge": "ch_" + payment_intent[3:],
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": status,
    }


def one_effect_per_id(wallet_id: str) -> None:
    refs = Counter((e["kind"], e["ref"]) for e in entries(wallet_id))
    assert all(n == 1 for n in refs.values()), refs


def spend(wallet_id: str, amount: int) -> None:
    async def go(db: Any) -> None:
        ledger = Ledger(db, ledger_settings())
        hold = "h-" + uuid.uuid4().hex
        await ledger.reserve(wallet_id, hold, want=amount, minimum=amount)
        await ledger.settle(wallet_id, hold, amount)

    run(go)


def snapshot(wallet_id: str, payment: str) -> tuple[Any, ...]:
    return doc("wallets", wallet_id), entries(wallet_id), payment_doc("stripe", payment)


def test_a_won_dispute_gives_back_what_it_took_once(function: Any, keys: Secrets) -> None:
    w, payment, dp = "w-dp-" + uuid.uuid4().hex, "pi_" + uuid.uuid4().hex, "dp_" + uuid.uuid4().hex
    deliver(function, keys, "checkout.session.completed", session(w, payment))
    spend(w, 3_000_000)
    assert deliver(function, keys, "charge.dispute.created", dispute(dp, payment, "needs_response")) == (
        "clawback_granted"
    )
    state = invariants(w)
    assert (state["available"], state["clawed_back"], state["debt"]) == (0, 2_000_000, 3_000_000)

    # Closed as won, delivered twice (two events, as Stripe retries with new ids for twins).
    assert (
        deliver(function, keys, "charge.dispute.closed", dispute(dp, payment, "won"))
        == "dispute_won_reversed"
    )
    assert (
        deliver(function, keys, "charge.dispute.closed", dispute(dp, payment, "won"))
        == "dispute_won_replayed"
    )
    state = invariants(w)
    assert (state["available"], state["debt"]) == (2_000_000, 0)  # as before the dispute
    assert state["granted"] - state["settled"] - state["clawed_back"] == 2_000_000
    won = [e for e in entries(w) if e["kind"] == "dispute_won"]
    assert [(e["ref"], e["amount"]) for e in won] == [(dp, CREDITS)]
    record = payment_doc("stripe", payment) or {}
    assert record["clawed"] == 0
    (clawback,) = record["clawbacks"]
    assert (clawback["state"], clawback["minor"], clawback["reversed_credits"]) == ("reversed", 0, CREDITS)
    # The dispute delivered again takes nothing; a later partial refund counts only itself.
    assert deliver(function, keys, "charge.dispute.created", dispute(dp, payment, "under_review")) == (
        "clawback_replayed"
    )
    refund = {
        "id": "ch_" + payment[3:],
        "object": "charge",
        "amount": 500,
        "amount_refunded": 100,
        "currency": "usd",
        "payment_intent": payment,
    }
    assert deliver(function, keys, "charge.refunded", refund) == "clawback_granted"
    state = invariants(w)
    assert (state["available"], state["debt"]) == (1_000_000, 0)  # 100/500 of 5M taken, not the dispute
    one_effect_per_id(w)


def test_a_won_dispute_after_its_debt_was_paid_gives_the_credits_back(function: Any, keys: Secrets) -> None:
    w, payment, dp = "w-dp-" + uuid.uuid4().hex, "pi_" + uuid.uuid4().hex, "dp_" + uuid.uuid4().hex
    deliver(function, keys, "checkout.session.completed", session(w, payment))
    spend(w, 3_000_000)
    deliver(function, keys, "charge.dispute.created", dispute(dp, payment, "needs_response"))
    deliver(function, keys, "checkout.session.completed", session(w, "pi_" + uuid.uuid4().hex))
    assert (invariants(w)["available"], invariants(w)["debt"]) == (2_000_000, 0)  # the top-up paid 3M
    assert (
        deliver(function, keys, "charge.dispute.closed", dispute(dp, payment, "won"))
        == "dispute_won_reversed"
    )
    state = invariants(w)
    assert (state["available"], state["debt"]) == (7_000_000, 0)  # 2M left before the dispute + 5M
    one_effect_per_id(w)


@pytest.mark.parametrize("status", ["lost", "warning_closed"])
def test_a_lost_dispute_changes_nothing(function: Any, keys: Secrets, status: str) -> None:
    w, payment, dp = "w-dp-" + uuid.uuid4().hex, "pi_" + uuid.uuid4().hex, "dp_" + uuid.uuid4().hex
    deliver(function, keys, "checkout.session.completed", session(w, payment))
    spend(w, 1_000_000)
    deliver(function, keys, "charge.dispute.created", dispute(dp, payment, "needs_response"))
    before = snapshot(w, payment)
    assert (
        deliver(function, keys, "charge.dispute.closed", dispute(dp, payment, status)) == f"dispute_{status}"
    )
    assert snapshot(w, payment) == before
    state = invariants(w)
    assert (state["available"], state["clawed_back"], state["debt"]) == (0, 4_000_000, 1_000_000)
    one_effect_per_id(w)


def test_a_win_seen_before_its_dispute_makes_the_dispute_take_nothing(function: Any, keys: Secrets) -> None:
    w, payment, dp = "w-dp-" + uuid.uuid4().hex, "pi_" + uuid.uuid4().hex, "dp_" + uuid.uuid4().hex
    deliver(function, keys, "checkout.session.completed", session(w, payment))
    assert (
        deliver(function, keys, "charge.dispute.closed", dispute(dp, payment, "won"))
        == "dispute_won_recorded"
    )
    assert deliver(function, keys, "charge.dispute.created", dispute(dp, payment, "needs_response")) == (
        "clawback_replayed"
    )
    state = invariants(w)
    assert (state["available"], state["clawed_back"], state["debt"]) == (CREDITS, 0, 0)
    assert [e["kind"] for e in entries(w)] == ["purchase"]
    # Before the payment itself, too: the purchase then grants in full.
    w2, payment2, dp2 = "w-dp-" + uuid.uuid4().hex, "pi_" + uuid.uuid4().hex, "dp_" + uuid.uuid4().hex
    assert deliver(function, keys, "charge.dispute.created", dispute(dp2, payment2, "needs_response")) == (
        "clawback_pending"
    )
    assert deliver(function, keys, "charge.dispute.closed", dispute(dp2, payment2, "won")) == (
        "dispute_won_recorded"
    )
    deliver(function, keys, "checkout.session.completed", session(w2, payment2))
    state = invariants(w2)
    assert (state["available"], state["clawed_back"], state["debt"]) == (CREDITS, 0, 0)
    assert deliver(function, keys, "charge.dispute.closed", dispute(dp2, payment2, "won")) in (
        "dispute_won_replayed",
        "dispute_won_recorded",
    )
    assert invariants(w2)["available"] == CREDITS


def test_a_won_dispute_unblocks_a_workspace(function: Any, keys: Secrets, api_client: httpx.Client) -> None:
    owner, member = register(api_client), register(api_client)
    ws = str(create_workspace(api_client, owner)["id"])
    join(api_client, owner, ws, member)
    payment, dp = "pi_" + uuid.uuid4().hex, "dp_" + uuid.uuid4().hex
    deliver(function, keys, "checkout.session.completed", session(f"ws-{ws}", payment))

    async def member_spends(db: Any) -> None:
        spending = WorkspaceSpending(db, ShardedWallets(Ledger(db, ledger_settings())))
        hold = "h-" + uuid.uuid4().hex
        await spending.reserve(ws, member.user_id, hold, 1_500_000, 1_500_000)
        await spending.settle(ws, hold, 1_500_000)

    run(member_spends)
    assert deliver(function, keys, "charge.dispute.created", dispute(dp, payment, "needs_response")) == (
        "clawback_granted"
    )
    states = shard_invariants(ws)
    assert (sum(s["available"] for s in states), states[0]["debt"]) == (0, 1_500_000)
    assert (
        deliver(function, keys, "charge.dispute.closed", dispute(dp, payment, "won"))
        == "dispute_won_reversed"
    )
    states = shard_invariants(ws)
    assert (sum(s["available"] for s in states), states[0]["debt"]) == (3_500_000, 0)
    run(member_spends)  # spending resumes
    assert sum(s["available"] for s in shard_invariants(ws)) == 2_000_000


def test_a_won_dispute_of_an_allotment_gives_it_back_expiring_as_it_was(function: Any, keys: Secrets) -> None:
    w, payment, dp = "w-dp-" + uuid.uuid4().hex, "pi_" + uuid.uuid4().hex, "dp_" + uuid.uuid4().hex
    period_end = int(time.time()) + 20 * 86400
    invoice = {
        "id": "in_" + uuid.uuid4().hex,
        "object": "invoice",
        "subscription_details": {"metadata": {"wallet_id": w, "plan": "pro"}},
        "payment_intent": payment,
        "billing_reason": "subscription_create",
        "amount_paid": 2000,
        "currency": "usd",
        "lines": {
            "data": [{"price": {"id": "price_pro_monthly"}, "quantity": 1, "period": {"end": period_end}}]
        },
    }
    assert deliver(function, keys, "invoice.paid", invoice) == "allotment_granted"
    before = (doc("wallets", w) or {})["lots"]
    assert [(lot["left"], int(lot["expires_at"].timestamp())) for lot in before] == [(20_000_000, period_end)]
    deliver(
        function, keys, "charge.dispute.created", dispute(dp, payment, "needs_response") | {"amount": 2000}
    )
    assert invariants(w)["available"] == 0
    assert (
        deliver(function, keys, "charge.dispute.closed", dispute(dp, payment, "won"))
        == "dispute_won_reversed"
    )
    state = invariants(w)
    assert (state["available"], state["debt"]) == (20_000_000, 0)
    assert (doc("wallets", w) or {})["lots"] == before
    one_effect_per_id(w)
