"""Web search behind one small interface, for research jobs: a query in, hits (title, url, snippet) out.

Adapters over httpx for Tavily, Exa, Valyu and Brave, picked by settings.search_provider; each reads its
key from the secret source (TAVILY_API_KEY, EXA_API_KEY, VALYU_API_KEY, BRAVE_SEARCH_API_KEY) and may
be pointed elsewhere with settings.search_api_base (tests use a local server with Tavily's shape).
A failure becomes SearchFailed: 429, 5xx, timeouts and connection errors are retryable, other refusals
(a bad key, a bad request) are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from shared.adapters.secrets import SecretSource
from shared.errors import UpstreamError
from shared.settings import Settings

KEYS = {
    "tavily": "TAVILY_API_KEY",
    "exa": "EXA_API_KEY",
    "valyu": "VALYU_API_KEY",
    "brave": "BRAVE_SEARCH_API_KEY",
}
BASES = {
    "tavily": "https://api.tavily.com",
    "exa": "https://api.exa.ai",
    "valyu": "https://api.valyu.ai/v1",
    "brave": "https://api.search.brave.com/res/v1",
}


class SearchFailed(UpstreamError):
    code = "search_failed"

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    snippet: str


class SearchProvider(Protocol):
    name: str

    async def search(self, query: str, max_results: int) -> list[SearchHit]: ...


class HttpSearch:
    """What every adapter shares: the key, the base URL, one request, and what a failure means."""

    name = ""

    def __init__(self, api_key: str, base_url: str, timeout_s: float) -> None:
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._timeout_s = timeout_s

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.request(method, f"{self._base}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise SearchFailed(
                f"The search provider could not be reached ({type(exc).__name__}).", retryable=True
            ) from exc
        if response.status_code >= 400:
            retryable = response.status_code == 429 or response.status_code >= 500
            raise SearchFailed(f"The search provider answered {response.status_code}.", retryable=retryable)
        try:
            return response.json()
        except ValueError as exc:
            raise SearchFailed(
                "The search provider answered something that is not JSON.", retryable=True
            ) from exc

    async def search(self, query: str, max_results: int) -> list[SearchHit]:
        raise NotImplementedError


def _hits(items: Any, snippet_keys: tuple[str, ...]) -> list[SearchHit]:
    hits = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        snippet = next((str(item[k]) for k in snippet_keys if item.get(k)), "")
        hits.append(SearchHit(str(item.get("title") or item["url"]), item["url"], snippet[:2000]))
    return hits


class TavilySearch(HttpSearch):
    name = "tavily"

    async def search(self, query: str, max_results: int) -> list[SearchHit]:
        body = {"query": query, "max_results": max_results, "search_depth": "basic"}
        data = await self._call(
            "POST", "/search", json=body, headers={"Authorization": f"Bearer {self._key}"}
        )
        return _hits(data.get("results"), ("content",))


class ExaSearch(HttpSearch):
    name = "exa"

    async def search(self, query: str, max_results: int) -> list[SearchHit]:
        body = {"query": query, "numResults": max_results, "contents": {"text": {"maxCharacters": 2000}}}
        data = await self._call("POST", "/search", json=body, headers={"x-api-key": self._key})
        return _hits(data.get("results"), ("text", "summary"))


class ValyuSearch(HttpSearch):
    name = "valyu"

    async def search(self, query: str, max_results: int) -> list[SearchHit]:
        body = {"query": query, "max_num_results": max_results, "search_type": "web"}
        data = await self._call("POST", "/search", json=body, headers={"x-api-key": self._key})
        return _hits(data.get("results"), ("content", "description"))


class BraveSearch(HttpSearch):
    name = "brave"

    async def search(self, query: str, max_results: int) -> list[SearchHit]:
        params: dict[str, str | int] = {"q": query, "count": min(max_results, 20)}
        headers = {"X-Subscription-Token": self._key, "Accept": "application/json"}
        data = await self._call("GET", "/web/search", params=params, headers=headers)
        return _hits((data.get("web") or {}).get("results"), ("description",))


ADAPTERS: dict[str, type[HttpSearch]] = {
    "tavily": TavilySearch,
    "exa": ExaSearch,
    "valyu": ValyuSearch,
    "brave": BraveSearch,
}


def search_provider(settings: Settings, secrets: SecretSource) -> SearchProvider | None:
    """The configured search provider, or None when its key is not set (research jobs are refused)."""
    name = settings.search_provider
    key = secrets.get(KEYS[name])
    if not key:
        return None
    adapter: SearchProvider = ADAPTERS[name](
        key, settings.search_api_base or BASES[name], settings.search_timeout_s
    )
    return adapter
