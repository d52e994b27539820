"""The semantic cache: an answer to a question close enough to one already answered, for the same tenant.

Only the last user message is compared, by embedding; everything else must match exactly through
the key's `scope` (tenant, model, system prompt, earlier turns, parameters), so a similar question
asked after a different system prompt or conversation never matches.

Storage, per tenant and model (the tenant is in every key, so isolation is structural):
  sc:<tenant>:<model>:idx  sorted set of entries `<scope>:<prompt sha256>`, scored by insertion order
  sc:<tenant>:<model>:vec  hash entry -> unit-length vector as packed little-endian float32
  sc:<tenant>:<model>:ans  hash entry -> the CachedAnswer JSON
  sc:<tenant>:<model>:seq  the insertion counter
At most `max_entries` entries per tenant and model: a put evicts the oldest, atomically (Lua). All
four keys expire `ttl_s` after the last put, and a lookup ignores entries older than `ttl_s`.

Lookup is brute force: the entries of the request's scope (at most `max_entries`) are fetched and
compared by cosine similarity in Python. Measured worst case, all 200 entries (the default bound)
in one scope: about 5 ms with 256 dimensions, 20 ms with 1536, so ask the embedding model for few
dimensions (LitellmEmbedder(dimensions=256)). A vector index (Redis Stack / Memorystore vector
search) is the step up if the bound must grow.

Embedding or Redis faults report a miss; the chat request never fails because of this cache.
"""

from __future__ import annotations

import logging
import math
import operator
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.client import NEVER_DECODE
from redis.exceptions import RedisError

from shared.cache.keys import CacheKey, key_part, sha256
from shared.cache.types import CachedAnswer, Embedder

log = logging.getLogger("cache")

_PUT = """
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('ZPOPMIN', KEYS[1], extra)
  for i = 1, #old, 2 do
    redis.call('HDEL', KEYS[2], old[i])
    redis.call('HDEL', KEYS[3], old[i])
  end
end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return seq
"""

_MEMO_SIZE = 256


class SemanticCache:
    def __init__(
        self,
        redis: Redis,
        embedder: Embedder,
        *,
        ttl_s: int,
        threshold: float,
        max_entries: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("the similarity threshold must be in (0, 1]")
        if max_entries < 1 or ttl_s < 1:
            raise ValueError("max_entries and ttl_s must be positive")
        self._redis = redis
        self._embedder = embedder
        self.ttl_s = ttl_s
        self.threshold = threshold
        self.max_entries = max_entries
        self._clock = clock
        self._put_script = redis.register_script(_PUT)
        # The vector computed by a missed lookup is reused by the put that follows it.
        self._memo: OrderedDict[str, list[float]] = OrderedDict()

    @staticmethod
    def keys(tenant: str, model: str) -> tuple[str, str, str, str]:
        base = f"sc:{key_part(tenant)}:{key_part(model)}"
        return f"{base}:idx", f"{base}:vec", f"{base}:ans", f"{base}:seq"

    async def get(self, key: CacheKey) -> CachedAnswer | None:
        if key.prompt is None:
            return None
        idx, vec, ans, _ = self.keys(key.tenant, key.model)
        prefix = key.scope + ":"
        try:
            members = [_text(m) for m in await self._redis.zrange(idx, 0, -1)]
            candidates = [m for m in members if m.startswith(prefix)]
            if not candidates:
                return None  # nothing to compare with: no embedding call
            query = await self._vector(key.prompt)
            if query is None:
                return None
            # Vectors are binary: read them undecoded even from a decode_responses client.
            stored = await self._redis.execute_command(  # type: ignore[no-untyped-call]
                "HMGET", vec, *candidates, **{NEVER_DECODE: True}
            )
            best, similarity = _nearest(query, candidates, stored)
            if best is None or similarity < self.threshold:
                return None
            raw = await self._redis.hget(ans, best)
        except (RedisError, OSError) as exc:
            log.warning("cache read failed", extra={"cache": {"kind": "semantic", "error": repr(exc)}})
            return None
        if raw is None:
            return None  # evicted between the two reads
        try:
            answer = CachedAnswer.model_validate_json(raw)
        except ValidationError:
            return None
        if answer.created + self.ttl_s < self._clock():
            return None
        return answer.model_copy(update={"match": "semantic", "similarity": similarity})

    async def put(self, key: CacheKey, answer: CachedAnswer) -> None:
        if key.prompt is None:
            return
        vector = await self._vector(key.prompt)
        if vector is None:
            return
        idx, vec, ans, seq = self.keys(key.tenant, key.model)
        member = f"{key.scope}:{sha256(key.prompt)}"
        packed = struct.pack(f"<{len(vector)}f", *vector)
        try:
            await self._put_script(
                keys=[idx, vec, ans, seq],
                args=[member, packed, answer.model_dump_json(), self.max_entries, self.ttl_s],
            )
        except (RedisError, OSError) as exc:
            log.warning("cache write failed", extra={"cache": {"kind": "semantic", "error": repr(exc)}})

    async def _vector(self, prompt: str) -> list[float] | None:
        """The unit-length embedding of a prompt, or None if the embedder failed."""
        memo_key = sha256(prompt)
        if memo_key in self._memo:
            self._memo.move_to_end(memo_key)
            return self._memo[memo_key]
        try:
            vector = unit(await self._embedder.embed(prompt))
        except Exception as exc:
            log.warning("embedding failed", extra={"cache": {"kind": "semantic", "error": repr(exc)}})
            return None
        if vector is None:
            return None
        self._memo[memo_key] = vector
        while len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)
        return vector


def unit(vector: Sequence[float]) -> list[float] | None:
    """The vector scaled to length 1 (None for an empty or all-zero vector, which matches nothing)."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if not vector or norm == 0 or not math.isfinite(norm):
        return None
    return [x / norm for x in vector]


def _nearest(
    query: list[float], members: list[str], stored: Sequence[bytes | None]
) -> tuple[str | None, float]:
    """The stored entry most similar to `query` (cosine of unit vectors = their dot product)."""
    best: str | None = None
    best_similarity = -1.0
    for member, packed in zip(members, stored, strict=True):
        if packed is None or len(packed) != 4 * len(query):
            continue  # evicted meanwhile, or made by an embedder of another dimension
        candidate = struct.unpack(f"<{len(query)}f", packed)
        similarity = sum(map(operator.mul, query, candidate))
        if similarity > best_similarity:
            best, best_similarity = member, similarity
    return best, best_similarity


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
