"""The Cloud Functions' wiring: the jobs worker, the reconciler and the payments function each build
their clients and services once per instance, in the event loop that serves them (shared/loop_thread.py),
from the same pieces as the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.bootstrap.clients import Clients, build_clients
from shared.bootstrap.jobs import Jobs, build_jobs, guarded_reader
from shared.bootstrap.knowledge import build_vector_stores
from shared.bootstrap.money import Buying, Money, build_buying, build_money
from shared.catalog.embeddings import EmbeddingCatalog
from shared.catalog.media import MediaCatalog
from shared.chat.threads import ThreadService
from shared.files.service import FileService
from shared.files.uploads import UploadService
from shared.gateway.gateway import Gateway, build_gateway
from shared.gateway.images import ImageGenerator
from shared.gateway.video import VideoGenerator
from shared.jobs.sweep import SweepReport
from shared.knowledge.service import VectorStoreService
from shared.knowledge.storage_charge import StorageReport, charge_storage
from shared.purchases.reconcile import recheck_orders
from shared.settings import Settings


@dataclass
class WorkerServices:
    """What the jobs worker runs steps with (research steps call the gateway)."""

    clients: Clients
    money: Money
    jobs: Jobs
    gateway: Gateway | None = None

    async def close(self) -> None:
        if self.gateway is not None:
            await self.gateway.aclose()
        await self.money.close()
        await self.jobs.close()
        await self.clients.close()


def build_worker(
    settings: Settings, images: ImageGenerator | None = None, videos: VideoGenerator | None = None
) -> WorkerServices:
    clients = build_clients(settings)
    money = build_money(clients)
    gateway = build_gateway(clients.catalog, settings, clients.redis, guarded_reader(settings))
    jobs = build_jobs(clients, money.payer, money.usage, money.budgets, gateway, images, videos)
    return WorkerServices(clients, money, jobs, gateway)


@dataclass
class Reconciler:
    """One sweep: holds nobody finished, lots whose period ended, jobs past their deadline or whose step
    was lost, and SSLCommerz orders whose validation failed when notified."""

    worker: WorkerServices
    buying: Buying

    async def expire_holds(self) -> tuple[int, int]:
        """Expire one batch of due holds, then one batch of wallets' due lots: (holds, lots) expired."""
        ledger, batch = self.worker.money.ledger, self.worker.clients.settings.reconcile_batch
        return await ledger.expire_due(batch), await ledger.expire_lots(batch)

    async def sweep_jobs(self, limit: int | None = None) -> SweepReport:
        return await self.worker.jobs.sweeper.sweep(limit)

    async def expire_threads(self) -> int:
        """One batch of threads whose plan's retention ran out, deleted with their messages."""
        threads = ThreadService(self.worker.clients.db)
        return await threads.delete_expired(self.worker.clients.settings.reconcile_batch)

    async def expire_files(self) -> int:
        """One batch of uploaded files whose plan's retention ran out, deleted with their bytes."""
        worker = self.worker
        files = FileService(worker.clients.db, worker.jobs.store, worker.money.workspaces)
        return await files.delete_expired(worker.clients.settings.reconcile_batch)

    async def expire_uploads(self) -> int:
        """One batch of uploads left pending past their hour (their objects deleted) or ended a day ago."""
        uploads = UploadService(self.worker.clients.db, self.worker.jobs.store)
        return await uploads.delete_expired(self.worker.clients.settings.reconcile_batch)

    def _vector_stores(self) -> VectorStoreService:
        worker = self.worker
        settings = worker.clients.settings
        catalog = EmbeddingCatalog.load(settings, worker.clients.catalog)
        return build_vector_stores(worker.clients.db, worker.jobs, worker.money.workspaces, catalog, settings)

    async def expire_vector_stores(self) -> int:
        """One batch of vector stores past their `expires_after`, deleted with their chunks."""
        return await self._vector_stores().delete_expired(self.worker.clients.settings.reconcile_batch)

    async def charge_vector_storage(self, today: dt.date | None = None) -> StorageReport:
        """One batch of vector stores charged for today's storage (shared/knowledge/storage_charge.py)."""
        settings = self.worker.clients.settings
        price = MediaCatalog.load(settings, self.worker.clients.catalog).vector_store_gb_day
        return await charge_storage(
            self._vector_stores(), self.worker.money.payer, price, settings.reconcile_batch, today
        )

    async def recheck_orders(self) -> dict[str, int]:
        return await recheck_orders(self.buying.pending_orders, self.worker.clients.settings.reconcile_batch)

    async def sweep_all(self) -> dict[str, int]:
        expired, lots_expired = await self.expire_holds()
        jobs = await self.sweep_jobs()
        orders = await self.recheck_orders()
        threads = await self.expire_threads()
        files = await self.expire_files()
        uploads = await self.expire_uploads()
        stores = await self.expire_vector_stores()
        storage = await self.charge_vector_storage()
        return {
            "vector_store_storage_credits": storage.charged,
            "vector_stores_unpaid": storage.unpaid,
            "vector_stores_deleted_unpaid": storage.deleted,
            "vector_stores_expired": stores,
            "uploads_expired": uploads,
            "threads_expired": threads,
            "files_expired": files,
            "expired": expired,
            "lots_expired": lots_expired,
            "jobs_expired": jobs.expired,
            "jobs_redriven": jobs.redriven,
            "jobs_closed": jobs.closed,
            **{f"orders_{state}": count for state, count in orders.items()},
        }

    async def close(self) -> None:
        await self.worker.close()


def build_reconciler(settings: Settings) -> Reconciler:
    worker = build_worker(settings)
    return Reconciler(worker, build_buying(worker.clients, worker.money))


@dataclass
class Payments:
    clients: Clients
    money: Money
    buying: Buying

    async def close(self) -> None:
        await self.money.close()
        await self.clients.close()


def build_payments(settings: Settings) -> Payments:
    clients = build_clients(settings)
    money = build_money(clients)
    return Payments(clients, money, build_buying(clients, money))


async def sweep_once(settings: Settings, limit: int | None = None) -> SweepReport:
    """One jobs sweep with clients that live in the calling event loop only (tests, a shell)."""
    reconciler = build_reconciler(settings)
    try:
        return await reconciler.sweep_jobs(limit)
    finally:
        await reconciler.close()
