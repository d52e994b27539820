"""The jobs' wiring: the API plans jobs with it, the jobs worker runs their steps, the reconciler sweeps."""

from __future__ import annotations

from dataclasses import dataclass

from shared.account.export_job import AccountExportJob
from shared.adapters.storage import GcsStore
from shared.adapters.tasks import TaskQueue
from shared.bootstrap.clients import Clients
from shared.catalog.embeddings import EmbeddingCatalog
from shared.catalog.media import MediaCatalog
from shared.chat.guard import Guardrails
from shared.chat.threads import ThreadService
from shared.gateway.embeddings import EmbeddingCaller
from shared.gateway.gateway import Gateway
from shared.gateway.images import ImageGenerator, LitellmImages
from shared.gateway.search import search_provider
from shared.gateway.video import LitellmVideos, VideoGenerator
from shared.jobs.export_job import ExportJob
from shared.jobs.export_sources import ExportSources
from shared.jobs.image_job import ImageJob
from shared.jobs.kinds import JobKind
from shared.jobs.parts import JobParts
from shared.jobs.progress import ProgressEvents
from shared.jobs.repository import JobRepository
from shared.jobs.research.addresses import SystemResolver
from shared.jobs.research.job import ResearchJob
from shared.jobs.research.reader import PageReader
from shared.jobs.runner import StepRunner
from shared.jobs.service import JobService
from shared.jobs.sweep import JobSweeper
from shared.jobs.video_job import VideoJob
from shared.knowledge.ingest import IngestJob
from shared.knowledge.repository import KnowledgeRepository
from shared.limits.budgets.service import Budgets
from shared.plans.offers import plan_offers
from shared.settings import Settings
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder


@dataclass
class Jobs:
    service: JobService
    runner: StepRunner
    sweeper: JobSweeper
    repo: JobRepository
    queue: TaskQueue
    store: GcsStore

    async def close(self) -> None:
        await self.queue.close()


def guarded_reader(settings: Settings) -> PageReader:
    """The guarded fetcher: research reads its sources with it, and the gateway fetches the images of the
    providers that need bytes (shared/gateway/inline.py)."""
    return PageReader(
        settings.research_fetch_timeout_s,
        settings.research_fetch_max_bytes,
        SystemResolver(),
        settings.research_allow_private_urls,
        settings.research_parse_budget_s,
    )


def build_jobs(
    clients: Clients,
    payer: Payer,
    usage: UsageRecorder,
    budgets: Budgets,
    gateway: Gateway,
    images: ImageGenerator | None = None,
    videos: VideoGenerator | None = None,
    guardrails: Guardrails | None = None,
) -> Jobs:
    """`images` and `videos` replace the litellm adapters (tests keep the real ones, behind provider
    fakes)."""
    settings, catalog = clients.settings, clients.catalog
    repo = JobRepository(clients.db)
    queue = TaskQueue(settings)
    store = GcsStore(settings)
    progress = ProgressEvents(clients.publisher, settings.jobs_topic)
    media = MediaCatalog.load(settings, catalog)
    reader = guarded_reader(settings)
    search = search_provider(settings, clients.secrets)
    timeout = settings.provider_timeout_s
    kinds: dict[str, JobKind] = {
        "image": ImageJob(media, images or LitellmImages(timeout), store, settings.jobs_deadline_s),
        "video": VideoJob(media, videos or LitellmVideos(timeout), store, settings),
        "research": ResearchJob(catalog, media, gateway, search, reader, store, settings),
        "export": ExportJob(ExportSources(ThreadService(clients.db), repo, store), store, settings),
        "account_export": AccountExportJob(clients.db, store, settings.jobs_deadline_s),
        "vector_store_file": IngestJob(
            EmbeddingCatalog.load(settings, catalog),
            EmbeddingCaller(),
            store,
            KnowledgeRepository(clients.db, store),
            settings.jobs_deadline_s,
        ),
    }
    parts = JobParts(repo, payer, queue, progress, settings, usage, budgets)
    service = JobService(parts, kinds, store, plan_offers(settings), guardrails)
    runner = StepRunner(parts, kinds)
    sweeper = JobSweeper(parts)
    return Jobs(service, runner, sweeper, repo, queue, store)
