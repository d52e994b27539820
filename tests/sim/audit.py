"""The auditor: after every step, every wallet as stored against the model and the ledger's invariants;
every so often (and at the end) the full check: every entry replayed, every hold against the model."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from shared.ledger.wallet_ids import ledger_wallet, shard_wallets
from tests.sim import budgets_sim, embeddings_sim, leases_sim, storage_sim
from tests.sim.calls import Violation
from tests.sim.model import ModelWallet
from tests.sim.payments import PROVIDER
from tests.sim.world import World
from tests.support.ledger import check_invariants


def check_wallet(wallet_id: str, doc: dict[str, Any], m: ModelWallet) -> None:
    stored = {k: int(doc.get(k, 0)) for k in m.counters()}
    if stored != m.counters():
        raise Violation(f"wallet {wallet_id} stores {stored}, the model expects {m.counters()}")
    lots = {lot["id"]: (lot["left"], lot["expires_at"]) for lot in doc.get("lots", [])}
    if lots != m.lots:
        raise Violation(f"wallet {wallet_id} has lots {lots}, the model expects {m.lots}")
    check_sums(wallet_id, stored)


def check_sums(wallet_id: str, s: dict[str, int]) -> None:
    if min(s["available"], s["reserved"], s["debt"], s["expired"], s["clawed_back"]) < 0:
        raise Violation(f"wallet {wallet_id} has a negative counter: {s}")
    if s["available"] + s["reserved"] != s["granted"] - s["settled"] - s["clawed_back"] - s["expired"]:
        raise Violation(f"wallet {wallet_id} does not add up: {s}")
    if s["debt"] > 0 and s["available"] > 0:
        raise Violation(f"wallet {wallet_id} owes {s['debt']} while {s['available']} is available")


def shard_ids(world: World) -> dict[str, list[str]]:
    return {b: shard_wallets(b, m.count) for b, m in world.sharded.items()}


async def after_step(db: firestore.AsyncClient, world: World) -> None:
    shards = shard_ids(world)
    names = sorted(world.model) + [w for ids in shards.values() for w in ids]
    refs = [db.collection("wallets").document(w) for w in names]
    docs = {snap.id: snap.to_dict() or {} async for snap in db.get_all(refs)}
    for wallet_id, m in world.model.items():
        check_wallet(wallet_id, docs.get(wallet_id, {}), m)
    for b, ids in shards.items():
        counted = [{k: int(docs.get(w, {}).get(k, 0)) for k in ModelWallet().counters()} for w in ids]
        for wallet_id, s in zip(ids, counted, strict=True):
            check_sums(wallet_id, s)
        net = sum(s["available"] - s["debt"] for s in counted)
        total = (net, sum(s["reserved"] for s in counted))
        want = (world.sharded[b].net, world.sharded[b].reserved)
        if total != want:
            raise Violation(f"workspace {b} has (net, reserved) {total}, the model expects {want}")
    await leases_sim.audit(world)


async def full(db: firestore.AsyncClient, world: World) -> None:
    for wallet_id, m in world.model.items():
        try:
            await check_invariants(db, wallet_id)
        except AssertionError as exc:
            raise Violation(f"ledger invariant broken in {wallet_id}: {exc}") from exc
        holds_ref = db.collection("wallets").document(wallet_id).collection("holds")
        stored = {s.id: s.to_dict() async for s in holds_ref.stream()}
        if set(stored) != set(m.holds):
            raise Violation(
                f"wallet {wallet_id} holds {sorted(set(stored) ^ set(m.holds))} the model does not"
            )
        for hold_id, held in m.holds.items():
            h = stored[hold_id]
            got = (h["amount"], h["state"], h["charged"], h.get("late_charged"))
            want = (held.amount, held.state, held.charged, held.late)
            if got != want:
                raise Violation(f"hold {hold_id} is {got}, the model expects {want}")
    for b, ids in shard_ids(world).items():
        for wallet_id in ids:
            try:
                await check_invariants(db, wallet_id)
            except AssertionError as exc:
                raise Violation(f"ledger invariant broken in {wallet_id}: {exc}") from exc
        for hold_id, held in world.sharded[b].holds.items():
            found = await world.ledger_shards.find(b, len(ids), hold_id)
            got_h = None if found is None else (found.amount, found.state, found.charged)
            if got_h != (held.amount, held.state, held.shown_charge):
                raise Violation(f"workspace hold {hold_id} is {got_h}, the model expects {held}")
    await event_payments(world)
    await budgets_sim.audit(world)
    await embeddings_sim.audit(db, world)
    await storage_sim.audit(world)
    await leases_sim.full(world)
    for pid, p in world.pay.payments.items():
        doc = await world.instances[0].purchases.payment(PROVIDER, pid) or {}
        got_p = (doc.get("state"), doc.get("wallet_id"), doc.get("credits"), doc.get("clawed", 0))
        want_p = (p.state, p.wallet, p.credits if p.state == "granted" else None, p.clawed)
        if got_p != want_p or len(doc.get("clawbacks", [])) != len(p.clawbacks):
            raise Violation(f"payment {pid} is {got_p} ({doc.get('clawbacks')}), the model expects {want_p}")


async def event_payments(world: World) -> None:
    """Every payment that came as provider events, as stored against the model: granted once (its state,
    credits and what its clawbacks took), every clawback recorded once with its state."""
    for p in world.events.payments.values():
        doc = await world.instances[0].purchases.payment(p.provider, p.pid) or {}
        got: tuple[Any, ...] = (doc.get("state", "pending"), doc.get("clawed", 0))
        if doc.get("state") == "granted":
            got += (doc.get("wallet_id"), doc.get("credits"))
        want = (p.state, p.clawed) + ((ledger_wallet(p.wallet), p.credits) if p.state == "granted" else ())
        clawbacks = [(c["id"], c.get("state"), c.get("credits", 0)) for c in doc.get("clawbacks", [])]
        want_c = [(c.id, c.state, c.credits) for c in p.clawbacks]
        if got != want or clawbacks != want_c:
            raise Violation(
                f"payment {p.provider}:{p.pid} is {got} {clawbacks}, the model expects {want} {want_c}"
            )
