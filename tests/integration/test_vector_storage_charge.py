"""The storage price of vector stores (issue 14, item 2): the reconciler's sweep charges each store once a
UTC day for its bytes at the media catalog's `vector_store_gb_day`, rounded up, to its owner's wallet; a
second sweep the same day charges nothing; a wallet that can't pay leaves the store marked unpaid, and a
store unpaid for a week is deleted like an expired one.

The sweep charges every store not yet charged for the day, so these tests sweep days far in the future
(no other test's store is charged on the day it runs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai

from shared.bootstrap.functions import build_reconciler
from shared.catalog.media import MediaCatalog
from shared.ids import stable_id
from shared.knowledge.storage_charge import GRACE_DAYS, StorageReport, charge_storage, day_price
from shared.ledger.records import HOLDS, WALLETS
from shared.ledger.wallet_ids import shard_wallets, workspace_wallet_base
from shared.settings import Settings
from tests.support.helpers import User, db, grant_credits, wait_settled
from tests.support.jobs import JobsStack
from tests.support.knowledge import chunks_where, store_files_of, wait_indexed
from tests.support.workspaces import create

TEXT = b"Glaciers carve valleys as they move, grinding rock into fine flour. " * 30


def sweep_until(settings: Settings, store_id: str, day: dt.date, gb_day: int | None = None) -> StorageReport:
    """Sweep `day` until the store was seen (each sweep takes a batch of stores)."""

    async def run() -> StorageReport:
        reconciler = build_reconciler(settings)
        total = StorageReport()
        try:
            price = (
                gb_day
                if gb_day is not None
                else MediaCatalog.load(settings, reconciler.worker.clients.catalog).vector_store_gb_day
            )
            stores = reconciler._vector_stores()
            for _ in range(50):
                report = await charge_storage(stores, reconciler.worker.money.payer, price, 200, day)
                for name in ("charged", "stores", "unpaid", "deleted"):
                    setattr(total, name, getattr(total, name) + getattr(report, name))
                doc = db().collection("vector_stores").document(store_id).get().to_dict()
                if doc is None or doc.get("charged_through") == day.isoformat():
                    return total
            raise AssertionError("the sweep never reached the store")
        finally:
            await reconciler.close()

    return asyncio.run(run())


def hold_doc(wallet_id: str, hold_id: str) -> dict[str, Any] | None:
    hold = db().collection(WALLETS).document(wallet_id).collection(HOLDS).document(hold_id)
    return hold.get().to_dict()


def indexed_store(stack: JobsStack, user: User) -> str:
    sdk = openai.OpenAI(base_url=f"{stack.api}/v1", api_key=user.access_token, max_retries=0)
    file = sdk.files.create(file=("glaciers.txt", TEXT), purpose="assistants")
    store = sdk.vector_stores.create(name="ice", file_ids=[file.id])
    wait_indexed(sdk, store.id, 1)
    return store.id


def test_a_store_pays_for_its_bytes_once_a_day(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User], settings: Settings
) -> None:
    user = jobs_user()
    store = indexed_store(jobs_stack, user)
    usage = sum(int(e.get("usage_bytes") or 0) for e in store_files_of(store))
    catalog_price = 100_000  # shared/catalog/media.toml: $0.10 per GB a day
    expected = day_price(usage, catalog_price)
    assert usage > 0 and expected >= 1
    before = wait_settled(jobs_client, user.headers)["available"]
    day = dt.date(2090, 1, 1)
    sweep_until(settings, store, day)
    sweep_until(settings, store, day)  # the same day again: nothing more
    after = wait_settled(jobs_client, user.headers)["available"]
    assert before - after == expected
    sweep_until(settings, store, day + dt.timedelta(days=1))
    assert wait_settled(jobs_client, user.headers)["available"] == after - expected


def test_a_store_nobody_pays_for_goes_after_a_week(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User], settings: Settings
) -> None:
    user = jobs_user()
    store = indexed_store(jobs_stack, user)
    before = wait_settled(jobs_client, user.headers)
    first = dt.date(2091, 1, 1)
    unaffordable = 10**15  # no wallet of the tests holds this for a day of a few kilobytes
    sweep_until(settings, store, first, unaffordable)
    doc = db().collection("vector_stores").document(store).get().to_dict() or {}
    assert doc["storage_unpaid_since"] == first.isoformat()
    assert wait_settled(jobs_client, user.headers) == before  # nothing taken, nothing held
    sweep_until(settings, store, first + dt.timedelta(days=GRACE_DAYS - 1), unaffordable)
    assert db().collection("vector_stores").document(store).get().exists
    sweep_until(settings, store, first + dt.timedelta(days=GRACE_DAYS), unaffordable)
    assert not db().collection("vector_stores").document(store).get().exists
    assert chunks_where("store_id", store) == []


def test_two_sweeps_at_once_charge_a_workspace_store_once_a_day(
    jobs_stack: JobsStack, jobs_client: httpx.Client, jobs_user: Callable[[], User], settings: Settings
) -> None:
    """Found reading the simulator's lead: two reconciler runs charging one workspace store's day at once
    each started on their own instance's shards, so the day's fixed hold id could be held on two shards
    (and a settle by lookup could charge both). The day's hold now lives on the one shard its id names."""
    owner = jobs_user()
    ws = create(jobs_client, owner)["id"]
    base, shards = workspace_wallet_base(ws), settings.workspace_wallet_shards
    grant_credits(settings, base, 5_000_000, shards=shards)
    team = openai.OpenAI(
        base_url=f"{jobs_stack.api}/v1",
        api_key=owner.access_token,
        max_retries=0,
        default_headers={"X-Workspace-ID": ws},
    )
    file = team.files.create(file=("glaciers.txt", TEXT), purpose="assistants")
    store = team.vector_stores.create(name="ice", file_ids=[file.id]).id
    wait_indexed(team, store, 1)
    usage = sum(int(e.get("usage_bytes") or 0) for e in store_files_of(store))
    price = day_price(usage, 100_000)

    async def both(day: dt.date) -> None:
        one, two = build_reconciler(settings), build_reconciler(settings)  # two instances, two homes
        try:
            for _ in range(50):
                await asyncio.gather(*(r.charge_vector_storage(day) for r in (one, two)))
                doc = db().collection("vector_stores").document(store).get().to_dict() or {}
                if doc.get("charged_through") == day.isoformat():
                    return
            raise AssertionError("the sweeps never reached the store")
        finally:
            await one.close()
            await two.close()

    def wallet() -> dict[str, int]:
        deadline = time.monotonic() + 10
        while True:
            got: dict[str, int] = jobs_client.get(f"/v1/workspaces/{ws}/wallet", headers=owner.headers).json()
            if got["reserved"] == 0 or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    before = wallet()
    days = [dt.date(2091, 3, 1) + dt.timedelta(days=n) for n in range(4)]
    for day in days:
        asyncio.run(both(day))
        hold_id = stable_id("storage", store, day.isoformat())
        held = [h for w in shard_wallets(base, shards) if (h := hold_doc(w, hold_id)) is not None]
        assert [(h["state"], h["charged"]) for h in held] == [("settled", price)], held
    after = wallet()
    assert before["available"] - after["available"] == price * len(days)
