"""Wire the jobs' adapters once per instance (per event loop: the gRPC clients belong to it).

The API builds this from its Services on first use; the worker function builds its own in its loop.
`images`, `videos` and `gateway` can be replaced (tests use provider fakes behind litellm, so they keep
the real adapters). Without a gateway given, one is built on a Redis client of its own (closed with the
jobs); research model steps call it, the API only plans jobs and never does.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import firestore
from redis.asyncio import Redis

from shared.adapters.firestore import async_client
from shared.adapters.pubsub import PubSubPublisher
from shared.adapters.secrets import secret_source
from shared.adapters.storage import GcsStore
from shared.adapters.tasks import TaskQueue
from shared.catalog.catalog import Catalog
from shared.catalog.media import MediaCatalog
from shared.export.sources import ExportSources
from shared.gateway.gateway import Gateway
from shared.gateway.images import ImageGenerator, LitellmImages
from shared.gateway.search import search_provider
from shared.gateway.video import LitellmVideos, VideoGenerator
from shared.jobs.export_job import ExportJob
from shared.jobs.image_job import ImageJob
from shared.jobs.kinds import JobKind
from shared.jobs.progress import ProgressEvents
from shared.jobs.repository import JobRepository
from shared.jobs.research.job import ResearchJob
from shared.jobs.research.reader import PageReader
from shared.jobs.runner import StepRunner
from shared.jobs.service import JobService
from shared.jobs.sweep import JobSweeper, SweepReport
from shared.jobs.video_job import VideoJob
from shared.ledger.ledger import Ledger
from shared.limits.budgets.service import Budgets
from shared.plans.limits import plans_for
from shared.settings import Settings
from shared.spending.payer import Payer, build_payer
from shared.usage.recorder import UsageRecorder


@dataclass
class Jobs:
    service: JobService
    runner: StepRunner
    sweeper: JobSweeper
    repo: JobRepository
    queue: TaskQueue
    store: GcsStore
    publisher: PubSubPublisher
    redis: Redis | None = None  # the gateway's and the budgets', made by build_jobs
    budgets: Budgets | None = None

    async def close(self) -> None:
        if self.budgets is not None:
            await self.budgets.flush()
        await self.queue.close()
        await self.publisher.close()
        if self.redis is not None:
            await self.redis.aclose()


def build_jobs(
    settings: Settings,
    db: firestore.AsyncClient,
    ledger: Ledger | Payer,
    catalog: Catalog,
    images: ImageGenerator | None = None,
    videos: VideoGenerator | None = None,
    gateway: Gateway | None = None,
) -> Jobs:
    repo = JobRepository(db)
    queue = TaskQueue(settings)
    store = GcsStore(settings)
    publisher = PubSubPublisher.from_settings(settings)
    progress = ProgressEvents(publisher, settings.jobs_topic)
    media = MediaCatalog.load(settings, catalog)
    generator = images or LitellmImages(settings.provider_timeout_s)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    if gateway is None:
        gateway = Gateway(catalog, settings, redis)
    budgets = Budgets(redis, plans_for(settings), publisher, settings)
    reader = PageReader(
        settings.research_fetch_timeout_s,
        settings.research_fetch_max_bytes,
        settings.research_allow_private_urls,
    )
    search = search_provider(settings, secret_source(settings))
    kinds: dict[str, JobKind] = {
        "image": ImageJob(media, generator, store, settings.jobs_deadline_s),
        "video": VideoJob(media, videos or LitellmVideos(settings.provider_timeout_s), store, settings),
        "research": ResearchJob(catalog, media, gateway, search, reader, store, settings),
        "export": ExportJob(ExportSources(db, store), store, settings),
    }
    payer = build_payer(db, ledger)
    usage = UsageRecorder(db, settings.usage_retention_days)
    service = JobService(repo, kinds, payer, queue, store, progress, settings, usage, budgets)
    runner = StepRunner(repo, kinds, payer, queue, progress, settings, usage, budgets)
    sweeper = JobSweeper(repo, payer, queue, progress, settings, usage, budgets)
    return Jobs(service, runner, sweeper, repo, queue, store, publisher, redis, budgets)


async def sweep_once(settings: Settings, limit: int | None = None) -> SweepReport:
    """One reconciler pass over the jobs, with clients that live in the calling event loop only."""
    db = async_client(settings)
    jobs = build_jobs(settings, db, Ledger(db, settings), Catalog.load(settings, secret_source(settings)))
    try:
        return await jobs.sweeper.sweep(limit)
    finally:
        await jobs.close()
        db.close()
        await db._firestore_api.transport.close()
