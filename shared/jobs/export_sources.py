"""Reading what an export renders: one of the user's threads (shared/chat/threads.py's documents), or the
markdown report of one of their finished research jobs (the job's `report` result, stored in Cloud
Storage as report.md). Only reads; someone else's thread or job is "not found", never "forbidden".
"""

from __future__ import annotations

from typing import Any

from shared.adapters.storage import BlobStore
from shared.chat.threads import Thread, ThreadNotFound, ThreadService
from shared.errors import Conflict
from shared.export.document import Document, from_markdown, from_thread, plain
from shared.export.schemas import ResearchSource, ThreadSource
from shared.jobs.errors import JobNotFound
from shared.jobs.repository import JobRepository

MAX_MESSAGES = 2000


class SourceNotReady(Conflict):
    code = "source_not_ready"


class ExportSources:
    """Asks the threads and the jobs for what it renders; reads no document itself."""

    def __init__(self, threads: ThreadService, jobs: JobRepository, store: BlobStore) -> None:
        self._threads = threads
        self._jobs = jobs
        self._store = store

    async def check(self, user_id: str, source: ThreadSource | ResearchSource) -> None:
        """Raise (404, or 409 for a research job not finished) unless the user may export the source."""
        if isinstance(source, ThreadSource):
            await self._thread(user_id, source.thread_id)
        else:
            self._report_result(await self._research_job(user_id, source.job_id), source.job_id)

    async def load(self, user_id: str, source: ThreadSource | ResearchSource, title: str | None) -> Document:
        if isinstance(source, ThreadSource):
            thread = await self._thread(user_id, source.thread_id)
            messages = await self._threads.transcript(user_id, source.thread_id, MAX_MESSAGES)
            return from_thread(title or thread.title or "Conversation", messages)
        job = await self._research_job(user_id, source.job_id)
        report = await self.read_report(job, source.job_id)
        question = str(job.get("params", {}).get("question") or "Research report")
        return Document(plain(title or question), from_markdown(report))

    async def read_report(self, job: dict[str, Any], job_id: str) -> str:
        """The report's markdown: the stored report.md, or the text kept in the job's result."""
        result = self._report_result(job, job_id)
        data = await self._store.read(str(result["path"])) if result.get("path") else None
        if data is not None:
            return data.decode("utf-8", "replace")
        if isinstance(result.get("text"), str):
            return str(result["text"])
        raise SourceNotReady(f"The report of job {job_id!r} is missing from storage; run the research again.")

    # Internals.

    async def _thread(self, user_id: str, thread_id: str) -> Thread:
        try:
            return await self._threads.owned(user_id, thread_id)
        except ThreadNotFound:
            raise ThreadNotFound(
                f"No thread {thread_id!r} exists for you; GET /v1/threads lists yours."
            ) from None

    async def _research_job(self, user_id: str, job_id: str) -> dict[str, Any]:
        job = await self._jobs.get(job_id)
        if job is None or job.user_id != user_id or job.type != "research":
            raise JobNotFound(job_id)
        return job.model_dump()

    def _report_result(self, job: dict[str, Any], job_id: str) -> dict[str, Any]:
        if job.get("state") != "succeeded":
            raise SourceNotReady(
                f"Research job {job_id!r} is {job.get('state')}; export it once it has succeeded."
            )
        for result in job.get("results") or []:
            if result.get("kind") == "report" or str(result.get("path", "")).endswith("/report.md"):
                return dict(result)
        raise SourceNotReady(f"Research job {job_id!r} has no report to export.")
