"""Research jobs: one step per invocation, each leaving what it found in the job's `data`.

    step 0        plan: the model writes search queries (the question itself is always the first);
                  the job now has len(queries) + 3 steps
    steps 1..Q    search: one query each, through the configured search provider
    step Q+1      read: fetch the best sources (round robin over the queries' hits, up to max_sources)
    step Q+2      synthesise: the model writes a cited markdown report, stored as report.md

Money: the hold is reserved at creation for the worst case: the plan call and the report call at their
largest prompts (bounded in bytes, see prompts.py) and output limits at the model's price, plus
settings.research_max_queries searches at media.toml's search price. Each model step costs its real
usage, each search step the search price; reading costs nothing. Everything adds up in `spent`, which is
settled once against the hold when the job ends (the rest released; also on failure or cancel).
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.adapters.storage import BlobStore
from shared.catalog.catalog import Catalog, ModelSpec, UnknownModel
from shared.catalog.media import MediaCatalog
from shared.gateway.gateway import Gateway
from shared.gateway.search import SearchFailed, SearchProvider
from shared.guardrails import injection
from shared.jobs.errors import InvalidJob, StepFailed
from shared.jobs.kinds import Plan, StepResult
from shared.jobs.research import prompts
from shared.jobs.research.model import call_model
from shared.jobs.research.reader import PageReader, clip
from shared.jobs.schemas import Job, JobCreate, JobResult
from shared.settings import Settings

REPORT_TYPE = "text/markdown; charset=utf-8"
SNIPPET_BYTES = 600
INJECTION_THRESHOLD = 0.6  # the injection check's default: a source scoring this is withheld from the model


def report_path(job: Job) -> str:
    return f"users/{job.user_id}/jobs/{job.id}/report.md"


class ResearchJob:
    def __init__(
        self,
        catalog: Catalog,
        media: MediaCatalog,
        gateway: Gateway | None,
        search: SearchProvider | None,
        reader: PageReader,
        store: BlobStore,
        settings: Settings,
    ) -> None:
        self._catalog = catalog
        self._media = media
        self._gateway = gateway
        self._search = search
        self._reader = reader
        self._store = store
        self._settings = settings

    def plan(self, request: JobCreate) -> Plan:
        spec_in = request.input
        if self._search is None:
            raise InvalidJob(
                f"Web search is not configured: set {self._settings.search_provider.upper()}_API_KEY "
                "(see README) and restart.",
                code="search_not_configured",
            )
        spec, _ = self._catalog.resolve(spec_in.model)
        s = self._settings
        queries = s.research_max_queries
        report_out = self._report_tokens(spec)
        worst = (
            spec.cost(prompts.plan_bound(spec_in.question, queries), prompts.PLAN_MAX_TOKENS)
            + queries * self._media.search_price
            + spec.cost(
                prompts.report_bound(spec_in.question, spec_in.max_sources, s.research_source_bytes),
                report_out,
            )
        )
        params = {"question": spec_in.question, "model": spec.id, "max_sources": spec_in.max_sources}
        return Plan(params=params, steps=queries + 3, price=worst, deadline_s=s.research_deadline_s)

    async def run_step(self, job: Job, step: int) -> StepResult:
        if step == 0:
            return await self._plan(job)
        queries: list[str] = list(job.data.get("queries", []))
        if 1 <= step <= len(queries):
            return await self._search_one(job, step - 1, queries[step - 1])
        if step == len(queries) + 1:
            return await self._read(job, len(queries))
        return await self._report(job)

    # Steps.

    async def _plan(self, job: Job) -> StepResult:
        question = str(job.params["question"])
        limit = self._settings.research_max_queries
        answer = await call_model(
            self._gw(), self._model(job), prompts.plan_messages(question, limit), prompts.PLAN_MAX_TOKENS
        )
        queries = prompts.queries_from_plan(question, answer.text, limit)
        return StepResult(cost=answer.cost, data={"queries": queries}, steps=len(queries) + 3)

    async def _search_one(self, job: Job, index: int, query: str) -> StepResult:
        if self._search is None:
            raise StepFailed(
                "Web search is no longer configured.", code="search_not_configured", retryable=False
            )
        try:
            hits = await self._search.search(query, int(job.params["max_sources"]))
        except SearchFailed as exc:
            raise StepFailed(exc.message, code=exc.code, retryable=exc.retryable) from exc
        found = [{"title": h.title, "url": h.url, "snippet": clip(h.snippet, SNIPPET_BYTES)} for h in hits]
        return StepResult(cost=self._media.search_price, data={f"search-{index}": found})

    async def _read(self, job: Job, count: int) -> StepResult:
        picked = _pick_sources(
            [job.data.get(f"search-{i}", []) for i in range(count)], int(job.params["max_sources"])
        )
        pages = await asyncio.gather(*(self._reader.read(hit["url"]) for hit in picked))
        limit = self._settings.research_source_bytes
        sources = []
        for n, (hit, page) in enumerate(zip(picked, pages, strict=True), start=1):
            text = clip(page.text if page is not None and page.text else hit["snippet"], limit)
            injected = injection.score(text, retrieved=True).score >= INJECTION_THRESHOLD
            title = hit["title"] or (page.title if page is not None else "")
            sources.append(
                {
                    "n": n,
                    "title": title,
                    "url": hit["url"],
                    "text": prompts.WITHHELD if injected else text,
                    "read": page is not None,
                    "withheld": injected,
                }
            )
        return StepResult(data={"sources": sources})

    async def _report(self, job: Job) -> StepResult:
        question = str(job.params["question"])
        sources: list[dict[str, Any]] = list(job.data.get("sources", []))
        spec = self._model(job)
        answer = await call_model(
            self._gw(), spec, prompts.report_messages(question, sources), self._report_tokens(spec)
        )
        report = prompts.report_markdown(question, answer.text, sources)
        path = report_path(job)
        if not await self._store.put_if_absent(path, report.encode(), REPORT_TYPE):
            stored = await self._store.read(path)  # an earlier attempt wrote it: keep one report
            report = stored.decode() if stored is not None else report
        data = report.encode()
        result = JobResult(
            index=0, kind="report", path=path, content_type=REPORT_TYPE, bytes=len(data), text=report
        )
        return StepResult(cost=answer.cost, results=[result])

    # Helpers.

    def _model(self, job: Job) -> ModelSpec:
        try:
            spec, _ = self._catalog.resolve(str(job.params["model"]))
        except UnknownModel as exc:  # taken out of the catalog (or its key removed) since the job began
            raise StepFailed(exc.message, code=exc.code, retryable=False) from exc
        return spec

    def _gw(self) -> Gateway:
        if self._gateway is None:  # pragma: no cover - the worker always has one
            raise StepFailed("No model gateway here.", code="no_gateway", retryable=False)
        return self._gateway

    def _report_tokens(self, spec: ModelSpec) -> int:
        return min(self._settings.research_report_max_tokens, spec.max_output_tokens)


def _pick_sources(results: list[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """Round robin over the queries' hits (each query's best first), each URL once, up to `limit`."""
    picked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rank in range(max((len(r) for r in results), default=0)):
        for hits in results:
            if rank < len(hits) and hits[rank]["url"] not in seen and len(picked) < limit:
                seen.add(hits[rank]["url"])
                picked.append(hits[rank])
    return picked
