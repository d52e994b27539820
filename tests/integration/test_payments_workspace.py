"""Workspaces paid for: Checkout for a workspace through the API (owners and admins only, seats within
the plan), allotments and top-ups onto the sharded wallet (granted on shard 0, spread over the shards),
subscription changes seen by the workspace, and a refund's debt blocking every member until paid.
After each: the ledger invariants on every shard and one effect per external id."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from shared.ledger.errors import PaymentDebt
from shared.ledger.ledger import Ledger
from shared.ledger.lots import lot_id
from shared.ledger.shards import ShardedWallets
from shared.spending.members import WorkspaceSpending
from tests.fakes.sslcommerz import FakeSslCommerz
from tests.fakes.stripe_api import FakeStripe
from tests.support.helpers import User
from tests.support.ledger import ledger_settings
from tests.support.lots import DAY, Clock
from tests.support.payments import (
    Secrets,
    create_workspace,
    doc,
    entries,
    payment_doc,
    post_event,
    register,
    run,
    shard_ids,
    shard_invariants,
    sign,
    stripe_event,
    where,
)
from tests.support.workspaces import join

TEAM_CREDITS = 25_000_000  # per seat per month: [plan_billing.team] and [stripe.plans.team]


def deliver(function: Any, keys: Secrets, kind: str, obj: dict[str, Any], created: int | None = None) -> Any:
    payload = stripe_event(kind, obj, created)
    response = post_event(function, payload, sign(payload, keys.webhook_new))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def one_effect_per_id(workspace_id: str) -> None:
    for wallet_id in shard_ids(workspace_id):
        refs = Counter((e["kind"], e["ref"]) for e in entries(wallet_id))
        assert all(n == 1 for n in refs.values()), (wallet_id, refs)


def available(workspace_id: str) -> list[int]:
    return [state["available"] for state in shard_invariants(workspace_id)]


def top_up(
    workspace_id: str, payment_intent: str, package: str = "credits-5", paid: int = 500
) -> dict[str, Any]:
    return {
        "id": "cs_" + uuid.uuid4().hex,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": payment_intent,
        "customer": "cus_" + workspace_id[-8:],
        "client_reference_id": f"ws-{workspace_id}",
        "amount_total": paid,
        "currency": "usd",
        "metadata": {"wallet_id": f"ws-{workspace_id}", "workspace_id": workspace_id, "package": package},
    }


@pytest.fixture(name="team")
def fixture_team(api_client: httpx.Client) -> tuple[str, User, User, User]:
    """A workspace with its owner, an admin and a member."""
    owner, admin, member = register(api_client), register(api_client), register(api_client)
    workspace_id = str(create_workspace(api_client, owner)["id"])
    join(api_client, owner, workspace_id, admin, "admin")
    join(api_client, owner, workspace_id, member)
    return workspace_id, owner, admin, member


def test_checkout_for_a_workspace_is_for_its_owners_and_admins(
    api_client: httpx.Client, team: tuple[str, User, User, User], fake_stripe: tuple[FakeStripe, str]
) -> None:
    fake = fake_stripe[0]
    ws, _, admin, member = team
    outsider = register(api_client)
    checkout = "/v1/billing/checkout"
    plan = {"plan": "team", "workspace_id": ws, "seats": 5}
    response = api_client.post(checkout, headers=admin.headers, json=plan)
    assert response.status_code == 200, response.text
    path, form = fake.requests[-1]
    assert (path, form["mode"]) == ("checkout", "subscription")
    assert (form["line_items[0][price]"], form["line_items[0][quantity]"]) == ("price_team_monthly", "5")
    for prefix in ("metadata", "subscription_data[metadata]"):
        assert form[f"{prefix}[wallet_id]"] == f"ws-{ws}"
        assert form[f"{prefix}[workspace_id]"] == ws
        assert form[f"{prefix}[seats]"] == "5"
    assert form["client_reference_id"] == f"ws-{ws}"

    package = {"package": "credits-20", "workspace_id": ws}
    assert api_client.post(checkout, headers=admin.headers, json=package).status_code == 200
    _, form = fake.requests[-1]
    assert (form["mode"], form["line_items[0][quantity]"]) == ("payment", "1")
    assert form["payment_intent_data[metadata][wallet_id]"] == f"ws-{ws}"
    assert form["payment_intent_data[metadata][workspace_id]"] == ws

    sent = len(fake.requests)
    refused = [
        (member, plan, (403, "role_required")),
        (outsider, plan, (404, "workspace_not_found")),
        (admin, plan | {"seats": 0}, (400, "invalid_seats")),
        (admin, plan | {"seats": 501}, (400, "invalid_seats")),
        (admin, {"plan": "pro", "workspace_id": ws, "seats": 2}, (400, "invalid_seats")),
        (admin, package | {"seats": 2}, (400, "invalid_seats")),
        (admin, {"plan": "team", "seats": 2}, (400, "invalid_seats")),  # seats are for a workspace
        (admin, {"plan": "nope", "workspace_id": ws}, (400, "unknown_plan")),
    ]
    for who, body, expected in refused:
        answer = api_client.post(checkout, headers=who.headers, json=body)
        assert code(answer) == expected, (body, answer.text)
        assert answer.json()["error"]["message"]
    assert len(fake.requests) == sent  # nothing was created at Stripe
    assert doc("billing_customers", f"ws-{ws}") is None

    for who, expected_status in ((admin, 200), (member, 403), (outsider, 404)):
        account = api_client.get("/v1/billing", params={"workspace_id": ws}, headers=who.headers)
        assert account.status_code == expected_status, account.text
    assert api_client.get("/v1/billing", params={"workspace_id": ws}, headers=admin.headers).json() == {
        "debt": 0,
        "clawed_back": 0,
        "stripe_customer": False,
    }
    portal = api_client.post("/v1/billing/portal", params={"workspace_id": ws}, headers=admin.headers)
    assert code(portal) == (409, "no_billing_account")
    member_portal = api_client.post("/v1/billing/portal", params={"workspace_id": ws}, headers=member.headers)
    assert code(member_portal) == (403, "role_required")


def test_a_workspace_sslcommerz_top_up_lands_on_its_shards(
    api_client: httpx.Client,
    team: tuple[str, User, User, User],
    fake_ssl: tuple[FakeSslCommerz, str],
    function: Any,
) -> None:
    ws, owner, _, member = team
    fake = fake_ssl[0]
    sessions = set(fake.sessions)
    body = {"provider": "sslcommerz", "package": "credits-500-bdt", "workspace_id": ws}
    assert code(api_client.post("/v1/billing/checkout", headers=member.headers, json=body)) == (
        403,
        "role_required",
    )
    response = api_client.post("/v1/billing/checkout", headers=owner.headers, json=body)
    assert response.status_code == 200, response.text
    orders = where("orders", "workspace_id", ws)
    assert [(o["wallet_id"], o["user_id"], o["state"]) for o in orders] == [
        (f"ws-{ws}", owner.user_id, "pending")
    ]
    (tran_id,) = set(fake.sessions) - sessions
    form = fake.pay(tran_id)
    for _ in range(2):  # the IPN, and again: credited once
        answer = function.test_client().post("/sslcommerz/ipn", data=form)
        assert (answer.status_code, answer.get_json()["state"]) == (200, "paid")
    shares = available(ws)
    assert sum(shares) == 4_000_000 and min(shares) > 0
    assert (payment_doc("sslcommerz", tran_id) or {})["wallet_id"] == f"ws-{ws}~0"
    one_effect_per_id(ws)


def subscribe(function: Any, keys: Secrets, ws: str, sub_id: str) -> None:
    meta = {"wallet_id": f"ws-{ws}", "workspace_id": ws, "plan": "team", "seats": "5"}
    start = {
        "id": "cs_" + uuid.uuid4().hex,
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "paid",
        "subscription": sub_id,
        "customer": "cus_" + ws[-8:],
        "client_reference_id": f"ws-{ws}",
        "metadata": meta,
    }
    assert deliver(function, keys, "checkout.session.completed", start)["outcome"] == "subscription_started"


def invoice(sub_id: str, seats: int, period_end: int) -> dict[str, Any]:
    return {
        "id": "in_" + uuid.uuid4().hex,
        "object": "invoice",
        "subscription": sub_id,
        "payment_intent": "pi_" + uuid.uuid4().hex,
        "billing_reason": "subscription_cycle",
        "amount_paid": 3000 * seats,
        "currency": "usd",
        "lines": {
            "data": [
                {
                    "price": {"id": "price_team_monthly"},
                    "quantity": seats,
                    "period": {"start": period_end - 30 * 86400, "end": period_end},
                }
            ]
        },
    }


def test_invoice_paid_grants_the_seats_allotment_once_over_the_shards_until_the_period_ends(
    function: Any, keys: Secrets, api_client: httpx.Client, team: tuple[str, User, User, User], clock: Clock
) -> None:
    ws = team[0]
    sub_id = "sub_" + uuid.uuid4().hex
    subscribe(function, keys, ws, sub_id)
    assert (doc("subscriptions", sub_id) or {})["wallet_id"] == f"ws-{ws}~0"
    assert (doc("billing_customers", f"ws-{ws}") or {})["stripe"] == "cus_" + ws[-8:]

    period_end = int(clock().timestamp()) + 30 * 86400
    paid = invoice(sub_id, 5, period_end)
    payload = stripe_event("invoice.paid", paid)
    header = sign(payload, keys.webhook_new)
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: post_event(function, payload, header), range(3)))
    assert {a.status_code for a in answers} <= {200, 409}  # 409: another delivery is handling it
    outcomes = [str(a.get_json().get("outcome", "duplicate")) for a in answers]
    assert outcomes.count("allotment_granted") == 1, outcomes
    # The same invoice in another event (Stripe sends invoice.payment_succeeded-like twins): nothing more.
    assert deliver(function, keys, "invoice.paid", paid)["outcome"] == "already_granted"

    total = 5 * TEAM_CREDITS
    shares = available(ws)
    assert sum(shares) == total
    assert len(shares) > 1 and min(shares) > 0 and max(shares) - min(shares) <= 1  # spread evenly
    shard0 = [e for e in entries(f"ws-{ws}~0") if e["kind"] == "purchase"]
    assert [(e["ref"], e["amount"]) for e in shard0] == [(f"stripe:{paid['payment_intent']}", total)]
    assert (payment_doc("stripe", paid["payment_intent"]) or {})["wallet_id"] == f"ws-{ws}~0"
    one_effect_per_id(ws)
    wallet = api_client.get(f"/v1/workspaces/{ws}/wallet", headers=team[1].headers).json()
    assert (wallet["available"], wallet["reserved"]) == (total, 0)

    # Every shard's part is in the allotment's lot, which expires at the end of the invoice's period.
    lot = lot_id("purchase", f"stripe:{paid['payment_intent']}")
    for wallet_id, part in zip(shard_ids(ws), shares, strict=True):
        lots = (doc("wallets", wallet_id) or {}).get("lots", [])
        assert [(x["id"], x["left"], int(x["expires_at"].timestamp())) for x in lots] == [
            (lot, part, period_end)
        ]
    # A top-up meanwhile does not expire.
    deliver(function, keys, "checkout.session.completed", top_up(ws, "pi_" + uuid.uuid4().hex))
    clock.advance(DAY)

    async def sweep(db: Any) -> int:
        ledger = Ledger(db, ledger_settings())
        return sum([await ledger.expire_wallet_lots(w) for w in shard_ids(ws)])

    assert run(sweep) == 0  # not yet
    clock.advance(30 * DAY)
    assert run(sweep) == len(shares)  # every shard's part expired
    states = shard_invariants(ws)
    assert sum(s["expired"] for s in states) == total
    assert sum(s["available"] for s in states) == 5_000_000  # the top-up is left
    one_effect_per_id(ws)


def test_subscription_changes_show_on_the_workspace(
    function: Any, keys: Secrets, api_client: httpx.Client, team: tuple[str, User, User, User]
) -> None:
    ws, owner, admin, _ = team
    sub_id = "sub_" + uuid.uuid4().hex
    subscribe(function, keys, ws, sub_id)
    before = api_client.get(f"/v1/workspaces/{ws}", headers=owner.headers).json()
    assert (before["plan"], before["seats"]) == ("team", 3)  # the plan's included seats

    def update(created: int, seats: int, status: str = "active") -> str:
        obj = {
            "id": sub_id,
            "object": "subscription",
            "status": status,
            "customer": "cus_" + ws[-8:],
            "metadata": {"wallet_id": f"ws-{ws}", "workspace_id": ws},
            "items": {"data": [{"price": {"id": "price_team_monthly"}, "quantity": seats}]},
        }
        kind = "customer.subscription.deleted" if status == "canceled" else "customer.subscription.updated"
        return str(deliver(function, keys, kind, obj, created=created)["outcome"])

    now = int(time.time())
    assert update(now, 7) == "subscription_recorded"
    seen = api_client.get(f"/v1/workspaces/{ws}", headers=admin.headers).json()
    assert (seen["plan"], seen["seats"]) == ("team", 7)
    assert update(now - 60, 2) == "subscription_stale"  # an older change delivered late
    assert update(now + 1, 12) == "subscription_recorded"
    assert api_client.get(f"/v1/workspaces/{ws}", headers=admin.headers).json()["seats"] == 12
    # While it is live, a second subscription for the workspace is refused: seats change in the portal.
    again = api_client.post(
        "/v1/billing/checkout", headers=admin.headers, json={"plan": "team", "workspace_id": ws, "seats": 4}
    )
    assert code(again) == (409, "already_subscribed")
    assert update(now + 2, 12, status="canceled") == "subscription_recorded"
    assert api_client.get(f"/v1/workspaces/{ws}", headers=admin.headers).json()["seats"] == 3
    # Each change is one `plan.change` entry in the workspace's audit trail, a redelivery none.
    assert update(now + 2, 12, status="canceled") == "subscription_recorded"
    trail = api_client.get(
        f"/v1/workspaces/{ws}/audit", params={"action": "plan.change"}, headers=owner.headers
    ).json()["data"]
    changes = [(e["details"]["seats"], e["details"]["status"]) for e in reversed(trail)]
    assert changes[-3:] == [(7, "active"), (12, "active"), (12, "canceled")]
    assert {e["actor"] for e in trail} == {"system:stripe"} and {e["target"] for e in trail} == {sub_id}


def spend(ws: str, user_id: str, hold_id: str, amount: int) -> None:
    async def go(db: Any) -> None:
        spending = WorkspaceSpending(db, ShardedWallets(Ledger(db, ledger_settings())))
        await spending.reserve(ws, user_id, hold_id, amount, amount)
        await spending.settle(ws, hold_id, amount)

    run(go)


def refused(ws: str, user_id: str) -> PaymentDebt:
    async def go(db: Any) -> PaymentDebt:
        spending = WorkspaceSpending(db, ShardedWallets(Ledger(db, ledger_settings())))
        with pytest.raises(PaymentDebt) as err:
            await spending.reserve(ws, user_id, "h-" + uuid.uuid4().hex, 10, 1)
        return err.value

    result: PaymentDebt = run(go)
    return result


def test_a_refunded_top_up_leaves_debt_that_blocks_every_member_until_paid(
    function: Any, keys: Secrets, api_client: httpx.Client, team: tuple[str, User, User, User]
) -> None:
    ws, owner, admin, member = team
    payment = "pi_" + uuid.uuid4().hex
    assert deliver(function, keys, "checkout.session.completed", top_up(ws, payment))["outcome"] == "granted"
    assert sum(available(ws)) == 5_000_000
    spend(ws, member.user_id, "h-" + uuid.uuid4().hex, 2_000_000)
    spend(ws, admin.user_id, "h-" + uuid.uuid4().hex, 1_000_000)
    assert sum(available(ws)) == 2_000_000

    refund = {
        "id": "ch_" + payment[3:],
        "object": "charge",
        "amount": 500,
        "amount_refunded": 500,
        "refunded": True,
        "currency": "usd",
        "payment_intent": payment,
        "metadata": {"wallet_id": f"ws-{ws}"},
    }
    assert deliver(function, keys, "charge.refunded", refund)["outcome"] == "clawback_granted"
    states = shard_invariants(ws)
    # Everything the workspace had was gathered and taken back; only the spent part is owed.
    assert [s["available"] for s in states] == [0] * len(states)
    assert (states[0]["clawed_back"], states[0]["debt"]) == (2_000_000, 3_000_000)
    assert all(s["debt"] == 0 for s in states[1:])
    for who in (owner, admin, member):
        err = refused(ws, who.user_id)
        assert (err.status, err.code, err.debt) == (402, "payment_debt", 3_000_000)
    account = api_client.get("/v1/billing", params={"workspace_id": ws}, headers=admin.headers).json()
    assert (account["debt"], account["clawed_back"]) == (3_000_000, 2_000_000)
    # The same refund again (a new event id): nothing more.
    assert deliver(function, keys, "charge.refunded", refund)["outcome"] == "clawback_replayed"

    deliver(
        function, keys, "checkout.session.completed", top_up(ws, "pi_" + uuid.uuid4().hex, "credits-20", 2000)
    )
    states = shard_invariants(ws)
    assert states[0]["debt"] == 0
    assert sum(s["available"] for s in states) == 17_000_000
    spend(ws, member.user_id, "h-" + uuid.uuid4().hex, 1_000_000)  # spending resumes
    assert sum(available(ws)) == 16_000_000
    kinds = [e["kind"] for e in entries(f"ws-{ws}~0")]
    assert "clawback" in kinds and kinds.index("debt_paid") > kinds.index("clawback")
    one_effect_per_id(ws)
