"""The cache the chat service uses: exact first, then (when enabled) semantic; puts go to both."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.cache.exact import ResponseCache
from shared.cache.keys import CacheKey
from shared.cache.semantic import SemanticCache
from shared.cache.types import Cache, CachedAnswer, Embedder
from shared.settings import Settings


class LayeredCache:
    def __init__(self, exact: Cache, semantic: Cache | None = None) -> None:
        self.exact = exact
        self.semantic = semantic

    async def get(self, key: CacheKey) -> CachedAnswer | None:
        answer = await self.exact.get(key)
        if answer is None and self.semantic is not None:
            answer = await self.semantic.get(key)
        return answer

    async def put(self, key: CacheKey, answer: CachedAnswer) -> None:
        await self.exact.put(key, answer)
        if self.semantic is not None:
            await self.semantic.put(key, answer)


def build_cache(redis: Redis, settings: Settings, embedder: Embedder | None = None) -> Cache | None:
    """The configured cache, or None when `response_cache_enabled` is off.

    The semantic layer needs an embedder (shared.gateway.embeddings.LitellmEmbedder) when
    `semantic_cache_enabled` is on; without one that is a configuration error."""
    if not settings.response_cache_enabled:
        return None
    exact = ResponseCache(redis, settings.response_cache_ttl_s)
    if not settings.semantic_cache_enabled:
        return LayeredCache(exact)
    if embedder is None:
        raise ValueError("SEMANTIC_CACHE_ENABLED needs an embedder (SEMANTIC_CACHE_EMBEDDING_MODEL)")
    semantic = SemanticCache(
        redis,
        embedder,
        ttl_s=settings.response_cache_ttl_s,
        threshold=settings.semantic_cache_threshold,
        max_entries=settings.semantic_cache_max_entries,
    )
    return LayeredCache(exact, semantic)
