"""The auditor: after every step, every wallet and workspace the step could have changed, as stored against
the model and the ledger's sums; every so often (and at the end) the full check: every wallet's entries
replayed, every hold, payment, usage record and budget against the model."""

from __future__ import annotations

import asyncio
from typing import Any

from google.cloud import firestore

from shared.ledger.wallet_ids import ledger_wallet, shard_wallets
from tests.sim import budgets_sim, embeddings_sim, leases_sim, members_sim, storage_sim
from tests.sim.calls import Violation
from tests.sim.faults import FaultyClient
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


async def after_step(db: FaultyClient, world: World) -> None:
    """Every wallet the step could have changed, as stored against the model, and every workspace's
    shards against its model; the same check as reading every wallet after every step, for less.

    Why it is the same: a wallet here (stored or modelled) can differ from the model only if one of the
    two changed since the last check, where they agreed. The stored document changes only through a
    write this process sends (the run's wallets have ids of their own), and every write goes through the
    run's one client, which notes each document it sends a commit for (before sending: a commit whose
    answer is lost may have been applied; any write under a wallet, its holds or entries, counts as one to
    the wallet). The model changes only in this process, and is compared with its copy from the last
    check. So the wallets left out are exactly those where neither side changed: checking them again
    could find nothing. `full` reads them all anyway, every FULL_AUDIT_EVERY steps and at the end."""
    shards = shard_ids(world)
    touched = {wallet_of(path) for path in db.take_written()}
    wallets = [w for w, m in world.model.items() if w in touched or world.audited.get(w) != seen(m)]
    sums = {b: (m.net, m.reserved) for b, m in world.sharded.items()}
    workspaces = [b for b, ids in shards.items() if touched & set(ids) or world.audited.get(b) != sums[b]]
    if wallets or workspaces:
        await compare(db, world, wallets, workspaces)
    await leases_sim.audit(world)


async def compare(db: FaultyClient, world: World, wallets: list[str], workspaces: list[str]) -> None:
    """These wallets and workspaces' shards, read at once, against the model."""
    shards = shard_ids(world)
    names = sorted(wallets) + [w for b in workspaces for w in shards[b]]
    refs = [db.collection("wallets").document(w) for w in names]
    docs = {snap.id: snap.to_dict() or {} async for snap in db.get_all(refs)}
    for wallet_id in wallets:
        m = world.model[wallet_id]
        check_wallet(wallet_id, docs.get(wallet_id, {}), m)
        world.audited[wallet_id] = seen(m)
    for b in workspaces:
        ids = shards[b]
        counted = [{k: int(docs.get(w, {}).get(k, 0)) for k in ModelWallet().counters()} for w in ids]
        for wallet_id, s in zip(ids, counted, strict=True):
            check_sums(wallet_id, s)
        net = sum(s["available"] - s["debt"] for s in counted)
        total = (net, sum(s["reserved"] for s in counted))
        want = (world.sharded[b].net, world.sharded[b].reserved)
        if total != want:
            raise Violation(f"workspace {b} has (net, reserved) {total}, the model expects {want}")
        world.audited[b] = want


def seen(m: ModelWallet) -> Any:
    """What of a model wallet the per-step check compares: its counters and its lots."""
    return (tuple(m.counters().values()), tuple(sorted(m.lots.items())))


def wallet_of(path: str) -> str | None:
    """The wallet a written document belongs to (the wallet, or its holds, entries...), else None."""
    parts = path.split("/documents/", 1)[-1].split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "wallets" else None


async def full(db: firestore.AsyncClient, world: World) -> None:
    """Every wallet's ledger invariants, entries replayed, and every hold against the model. The wallets
    are read at once (independent reads), then checked in order, so the first violation is the same."""
    wallets = list(world.model)
    shards = shard_ids(world)
    shard_wallet_ids = [w for ids in shards.values() for w in ids]
    broken, held_docs = await asyncio.gather(
        asyncio.gather(*(invariants(db, w) for w in wallets + shard_wallet_ids)),
        asyncio.gather(*(stored_holds(db, w) for w in wallets)),
    )
    by_wallet = dict(zip(wallets + shard_wallet_ids, broken, strict=True))
    for wallet_id, stored in zip(wallets, held_docs, strict=True):
        m = world.model[wallet_id]
        if by_wallet[wallet_id] is not None:
            raise Violation(f"ledger invariant broken in {wallet_id}: {by_wallet[wallet_id]}")
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
    for b, ids in shards.items():
        for wallet_id in ids:
            if by_wallet[wallet_id] is not None:
                raise Violation(f"ledger invariant broken in {wallet_id}: {by_wallet[wallet_id]}")
        for hold_id, held in world.sharded[b].holds.items():
            found_h = await world.ledger_shards.find(b, len(ids), hold_id)
            got_h = None if found_h is None else (found_h.amount, found_h.state, found_h.charged)
            if got_h != (held.amount, held.state, held.shown_charge):
                raise Violation(f"workspace hold {hold_id} is {got_h}, the model expects {held}")
    await event_payments(world)
    await budgets_sim.audit(world)
    await embeddings_sim.audit(db, world)
    await members_sim.audit(world)
    await storage_sim.audit(world)
    await leases_sim.full(world)
    for pid, p in world.pay.payments.items():
        doc = await world.instances[0].purchases.payment(PROVIDER, pid) or {}
        got_p = (doc.get("state"), doc.get("wallet_id"), doc.get("credits"), doc.get("clawed", 0))
        want_p = (p.state, p.wallet, p.credits if p.state == "granted" else None, p.clawed)
        if got_p != want_p or len(doc.get("clawbacks", [])) != len(p.clawbacks):
            raise Violation(f"payment {pid} is {got_p} ({doc.get('clawbacks')}), the model expects {want_p}")


async def invariants(db: firestore.AsyncClient, wallet_id: str) -> AssertionError | None:
    """The ledger's invariants in one wallet: what broke, or None."""
    try:
        await check_invariants(db, wallet_id)
    except AssertionError as exc:
        return exc
    return None


async def stored_holds(db: firestore.AsyncClient, wallet_id: str) -> dict[str, Any]:
    holds_ref = db.collection("wallets").document(wallet_id).collection("holds")
    return {s.id: s.to_dict() async for s in holds_ref.stream()}


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
