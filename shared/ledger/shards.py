"""A sharded wallet: one balance split over N ledger wallets `{base}~{k}` so that concurrent spenders
do not all write one Firestore document (about one sustained write per second per document, and
transactions on one document serialize).

- The balance is the sum of the shards, read in one batch.
- Credits coming in are spread over the shards (`grant`), each part idempotent by the same external id.
- A reservation starts at a shard of the instance's window (ShardedWallets), chosen by hashing the hold
  id, and uses another shard of the window when that one is short. Reservations of one instance take
  turns in process per shard, so instances with separate windows never contend in Firestore. When the
  window cannot hold it, the reservation goes outside, one at a time per instance: to a random shard that
  can, or, when the credits are scattered so that none can, to shard 0 after gathering credits into it.
  So a reservation gets what one unsharded wallet would give, min(want, the total), and is refused only
  when the total is too small.
- A transfer between shards is one transaction over both wallet documents that writes ordinary ledger
  records on both: on the source a hold reserved and settled for the amount (so the source's
  available + reserved == granted - settled - clawed_back - expired still holds), on the destination a
  grant of kind
  "transfer". Every shard therefore satisfies the ledger's invariants on its own, and the sum over the
  shards of granted - settled counts each transfer once in and once out.
- Expiring credits stay expiring: a grant with `expires_at` forms a lot of the same id on every shard,
  and a transfer draws the source's soonest-expiring lots first (as a reservation does) and adds them
  to the destination's lots of the same ids and expiry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from typing import Any

from shared import clock
from shared.errors import BadRequest
from shared.ids import new_id, stable_id
from shared.ledger.errors import HoldNotFound, InsufficientCredits, PaymentDebt
from shared.ledger.ledger import Ledger
from shared.ledger.records import WalletState, hold_from_doc
from shared.ledger.schemas import Balance, Hold
from shared.ledger.wallet_docs import WalletDocs
from shared.ledger.wallet_ids import shard_wallets

log = logging.getLogger("credits.shards")

TRANSFER_KIND = "transfer"
REBALANCE_ROUNDS = 4
DEFAULT_WINDOW = 4


def split(amount: int, count: int) -> list[int]:
    """`amount` in `count` parts as equal as integers allow, the larger parts first (they sum to it)."""
    return [amount // count + (1 if k < amount % count else 0) for k in range(count)]


def start_shard(hold_id: str, count: int, home: int = 0, window: int = 0) -> int:
    """The shard a reservation tries first: `home` plus the hold id's hash within `window` shards
    (0: all of them)."""
    span = min(window, count) if window > 0 else count
    return (home + int(stable_id("shard", hold_id)[:8], 16) % span) % count


class ShardedWallets:
    """The sharded wallets as one instance uses them.

    An instance starts its reservations within a window of shards beginning at its own `home` (random
    unless given): the reservations of one instance take turns in process (WalletTransactions), so
    instances whose windows do not overlap never contend in Firestore. Any shard is used when the
    window is short, and settles go wherever the hold is.
    """

    def __init__(self, ledger: Ledger, home: int | None = None, window: int = DEFAULT_WINDOW) -> None:
        self.ledger = ledger
        # The ledger's wallet documents: a transfer into a shard then takes its turn with the reservations
        # and settles of this instance on that shard instead of contending with them in Firestore.
        self._tx: WalletDocs = ledger.docs
        self._home = random.randrange(1 << 30) if home is None else home
        self._window = window
        self._outside: dict[str, asyncio.Lock] = {}

    async def balances(self, base: str, count: int) -> list[Balance]:
        """Every shard's balance, read in one batch (one consistent read)."""
        states = await self._tx.states(shard_wallets(base, count))
        at = clock.now()
        return [Balance(available=s.spendable(at), reserved=s.reserved) for s in states]

    async def balance(self, base: str, count: int) -> Balance:
        shards = await self.balances(base, count)
        return Balance(available=sum(b.available for b in shards), reserved=sum(b.reserved for b in shards))

    async def grant(
        self,
        base: str,
        count: int,
        amount: int,
        external_id: str,
        kind: str = "grant",
        expires_at: dt.datetime | None = None,
    ) -> int:
        """Spread `amount` over the shards once per (kind, external_id); the credits this call added.
        With `expires_at`, every part expires then (one lot of the same id on each shard)."""
        if amount <= 0:
            raise BadRequest(f"A grant must be a positive number of credits, not {amount}.")
        added = 0
        for wallet_id, part in zip(shard_wallets(base, count), split(amount, count), strict=True):
            if part > 0 and await self.ledger.grant(
                wallet_id, part, external_id, kind, expires_at=expires_at
            ):
                added += part
        return added

    async def find(self, base: str, count: int, hold_id: str) -> Hold | None:
        """The hold, in whichever shard holds it (one batch read)."""
        doc = await self._tx.find_hold(shard_wallets(base, count), hold_id)
        return None if doc is None else hold_from_doc(hold_id, doc)

    async def reserve(
        self,
        base: str,
        count: int,
        hold_id: str,
        want: int,
        minimum: int,
        ttl_s: int | None = None,
        ref: str | None = None,
        *,
        pinned: bool = False,
    ) -> Hold:
        """Hold min(want, a shard's available) credits on one shard, or InsufficientCredits when the
        shards together have fewer than `minimum`. A hold id seen before is returned as it is.

        `pinned`: the id is one several callers may reserve at the same moment (a day's storage charge run
        by two sweeps, a job created twice with one Idempotency-Key). Each instance starts on shards of its
        own and falls back to others, so two such racers could each make a hold of that id on another
        shard, and a settle by lookup could then charge both. A pinned hold lives only on the shard its id
        names (the same for every instance), credits gathered there first, so racers meet on one hold
        document and the ledger makes one hold.

        A workspace that owes credits (a settle that came after its hold expired left debt on one shard)
        pays the debt from all its shards first, as one wallet would; PaymentDebt when they cannot."""
        existing, states = await asyncio.gather(
            self.find(base, count, hold_id), self._tx.states(shard_wallets(base, count))
        )
        if existing is not None:
            return existing
        if any(state.debt > 0 for state in states):
            owed = await self.pay_debts(base, count)
            if owed > 0:
                raise PaymentDebt(owed)
        if pinned:
            return await self._reserve_pinned(base, count, hold_id, want, minimum, ttl_s, ref)
        wallets = shard_wallets(base, count)
        start = start_shard(hold_id, count, self._home, self._window)
        try:  # the common case: the first shard can hold all of it
            return await self.ledger.reserve(wallets[start], hold_id, want, want, ttl_s, ref)
        except InsufficientCredits:
            pass
        total = 0
        span = min(self._window or count, count)
        window = sorted({(self._home + i) % count for i in range(span)}, key=lambda k: (k - start) % count)
        for _ in range(REBALANCE_ROUNDS):
            shards = await self.balances(base, count)
            total = sum(b.available for b in shards)
            if total < minimum:
                break
            ready = [k for k in window if shards[k].available >= min(want, total)]
            if not ready:
                async with self._outside.setdefault(base, asyncio.Lock()):
                    shards = await self.balances(base, count)
                    total = sum(b.available for b in shards)
                    if total < minimum:
                        break
                    target = await self._outside_target(base, count, window, min(want, total), shards)
                    try:
                        return await self.ledger.reserve(wallets[target], hold_id, want, minimum, ttl_s, ref)
                    except InsufficientCredits:
                        continue
            try:
                return await self.ledger.reserve(wallets[ready[0]], hold_id, want, minimum, ttl_s, ref)
            except InsufficientCredits:
                continue
        raise InsufficientCredits(minimum, total)

    async def _reserve_pinned(
        self, base: str, count: int, hold_id: str, want: int, minimum: int, ttl_s: int | None, ref: str | None
    ) -> Hold:
        """The hold on the shard `hold_id` names whatever the instance; credits moved there when short."""
        target = start_shard(hold_id, count)
        wallet_id = shard_wallets(base, count)[target]
        total = 0
        for _ in range(REBALANCE_ROUNDS):
            try:  # all of it, or (with the credits gathered) what the shards have, at least `minimum`
                return await self.ledger.reserve(wallet_id, hold_id, want, want, ttl_s, ref)
            except InsufficientCredits:
                pass
            shards = await self.balances(base, count)
            total = sum(b.available for b in shards)
            if total < minimum:
                break
            if shards[target].available < min(want, total):
                async with self._outside.setdefault(base, asyncio.Lock()):
                    await self._pull(base, count, target, min(want, total), shards)
            try:
                return await self.ledger.reserve(wallet_id, hold_id, want, minimum, ttl_s, ref)
            except InsufficientCredits:
                continue
        raise InsufficientCredits(minimum, total)

    async def pay_debts(self, base: str, count: int) -> int:
        """Pay each shard's debt from the other shards' credits (credits moved into a shard pay its debt
        first); the debt left when the shards together had too little."""
        wallets = shard_wallets(base, count)
        states = await self._tx.states(wallets)
        for k, owing in enumerate(states):
            if owing.debt <= 0:
                continue
            at = clock.now()
            shards = [Balance(available=s.spendable(at), reserved=s.reserved) for s in states]
            await self._pull(base, count, k, shards[k].available + owing.debt, shards)
            states = await self._tx.states(wallets)
        owed = sum(state.debt for state in states)
        if owed:
            log.warning(
                "workspace owes credits its shards cannot pay", extra={"wallet_base": base, "debt": owed}
            )
        return owed

    async def _outside_target(
        self, base: str, count: int, window: list[int], goal: int, shards: list[Balance]
    ) -> int:
        """Where a reservation its window cannot hold goes: a shard of the window after all, else a random
        shard that can hold `goal`, else shard 0 after gathering credits into it. Gathering always into
        shard 0 means concurrent gatherings never transfer in a cycle (a -> b while b -> a)."""
        ready = [k for k in window if shards[k].available >= goal]
        if ready:
            return ready[0]
        ready = [k for k in range(count) if shards[k].available >= goal]
        if ready:
            return random.choice(ready)
        await self._pull(base, count, 0, goal, shards)
        return 0

    async def settle(
        self, base: str, count: int, hold_id: str, amount: int, wallet_id: str | None = None
    ) -> Hold:
        wallet_id = wallet_id or await self._shard_of(base, count, hold_id)
        return await self.ledger.settle(wallet_id, hold_id, amount)

    async def void(self, base: str, count: int, hold_id: str, wallet_id: str | None = None) -> Hold:
        wallet_id = wallet_id or await self._shard_of(base, count, hold_id)
        return await self.ledger.void(wallet_id, hold_id)

    async def rebalance(self, base: str, count: int, target: int, need: int) -> bool:
        """Bring shard `target` to at least max(need, an equal share), taking from the richest shards
        first; False when the shards together have less than `need` (nothing moved)."""
        shards = await self.balances(base, count)
        total = sum(b.available for b in shards)
        if total < need:
            return False
        await self._pull(base, count, target, max(need, total // count), shards)
        return True

    async def _pull(self, base: str, count: int, target: int, goal: int, shards: list[Balance]) -> None:
        """Move credits from other shards (the richer the likelier) to `target` until it has `goal`."""
        missing = goal - shards[target].available
        # A random order weighted by what each shard has (Efraimidis-Spirakis keys): the rich ones tend to
        # come first, but instances refilling at once mostly pick different sources.
        sources = sorted(
            (k for k in range(count) if k != target and shards[k].available > 0),
            key=lambda k: random.random() ** (1 / shards[k].available),
            reverse=True,
        )
        wallets = shard_wallets(base, count)
        for k in sources:
            if missing <= 0:
                break
            take = min(shards[k].available, missing)
            if take > 0:
                missing -= await self.transfer(wallets[k], wallets[target], take, new_id())
        log.info("wallet shards rebalanced", extra={"wallet_base": base, "target": target, "goal": goal})

    async def transfer(self, source: str, dest: str, amount: int, transfer_id: str) -> int:
        """Move up to `amount` of `source`'s available credits to `dest`, once per transfer id.

        Returns how many credits moved (what the first call moved, for a replay)."""
        if amount <= 0 or source == dest:
            raise BadRequest("A transfer needs a positive amount and two different wallets.")
        docs = self._tx
        hold_id = f"{TRANSFER_KIND}-{transfer_id}"
        src_ref, dst_ref, hold_ref = docs.wallet(source), docs.wallet(dest), docs.hold(source, hold_id)

        async def body(tx: Any) -> int:
            src_snap, dst_snap, hold_snap = await self._tx.read(tx, src_ref, dst_ref, hold_ref)
            if hold_snap.exists:
                return int(hold_snap.get("charged"))
            at = clock.now()
            src = WalletState.from_doc(src_snap.to_dict())
            dst = WalletState.from_doc(dst_snap.to_dict())
            src_written, dst_written = src.expire_lots(at), dst.expire_lots(at)
            moved = min(amount, src.available)
            if moved <= 0:
                return 0
            expiry = {lot.id: lot.expires_at for lot in src.lots}
            drawn = src.take(moved, lots_first=True)
            src.reserved += moved
            reserve_entry = src.entry("reserve", -moved, hold_id, at)
            src.reserved -= moved
            src.settled += moved
            settle_entry = src.entry("settle", 0, hold_id, at, charged=moved, transfer_to=dest)
            dst.available += moved
            dst.granted += moved
            for lot_key, n in drawn.items():
                dst.add_lot(lot_key, n, expiry[lot_key])
            docs.set_hold(tx, source, hold_id, _transfer_hold(source, moved, dest, at) | {"drawn": drawn})
            docs.add_entry(tx, source, "reserve", hold_id, reserve_entry)
            docs.add_entry(tx, source, "settle", hold_id, settle_entry)
            received = dst.entry(TRANSFER_KIND, moved, transfer_id, at, transfer_from=source, lots=drawn)
            docs.add_entry(tx, dest, TRANSFER_KIND, transfer_id, received)
            docs.pay_debt(tx, dest, dst, f"{TRANSFER_KIND}:{transfer_id}", at)
            docs.add_entries(tx, source, src_written)
            docs.add_entries(tx, dest, dst_written)
            docs.set_wallet(tx, source, src, at)
            docs.set_wallet(tx, dest, dst, at)
            return moved

        return await self._tx.run(dest, body)

    async def _shard_of(self, base: str, count: int, hold_id: str) -> str:
        hold = await self.find(base, count, hold_id)
        if hold is None:
            raise HoldNotFound(hold_id)
        return hold.wallet_id


def _transfer_hold(source: str, amount: int, dest: str, at: Any) -> dict[str, Any]:
    """A hold reserved and settled at once: the source's side of a transfer."""
    return {
        "wallet_id": source,
        "amount": amount,
        "state": "settled",
        "charged": amount,
        "expires_at": at,
        "created_at": at,
        "finished_at": at,
        "ref": f"{TRANSFER_KIND}:{dest}",
    }
