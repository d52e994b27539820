"""The exact response cache: one Redis string per (tenant, normalised request), JSON, with a TTL.

A Redis fault never fails a chat request: `get` reports a miss and `put` gives up, both with a
warning in the logs.
"""

from __future__ import annotations

import logging
import re

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.cache.keys import CacheKey
from shared.cache.types import CachedAnswer

__all__ = ["CachedAnswer", "ResponseCache", "replay_chunks"]

log = logging.getLogger("cache")

# A boundary between a run of whitespace and the next word.
_WORD_START = re.compile(r"(?<=\s)(?=\S)")


class ResponseCache:
    def __init__(self, redis: Redis, ttl_s: int) -> None:
        if ttl_s < 1:
            raise ValueError("the cache TTL must be at least one second")
        self._redis = redis
        self.ttl_s = ttl_s

    async def get(self, key: CacheKey) -> CachedAnswer | None:
        try:
            raw = await self._redis.get(key.redis_key)
        except (RedisError, OSError) as exc:
            log.warning("cache read failed", extra={"cache": {"kind": "exact", "error": repr(exc)}})
            return None
        if raw is None:
            return None
        try:
            return CachedAnswer.model_validate_json(raw)
        except ValidationError:
            log.warning("cache entry unreadable", extra={"cache": {"kind": "exact", "key": key.redis_key}})
            return None

    async def put(self, key: CacheKey, answer: CachedAnswer) -> None:
        try:
            await self._redis.set(key.redis_key, answer.model_dump_json(), ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            log.warning("cache write failed", extra={"cache": {"kind": "exact", "error": repr(exc)}})


def replay_chunks(text: str) -> list[str]:
    """A cached text cut into stream-sized pieces, one word each with the whitespace after it
    (leading whitespace is a piece of its own). `"".join(replay_chunks(t)) == t` always."""
    if not text:
        return []
    return _WORD_START.split(text)
