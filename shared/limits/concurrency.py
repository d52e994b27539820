"""How many long-lived things (chat streams, speech sessions) one user has open at once, across instances.

Each open thing is a lease: a member of the Redis sorted set `{u:<user>}:open:<kind>` scored by when it
expires. Acquiring drops expired leases, adds its own and counts; past the cap it removes itself again and
the caller gets 429. Releasing (in a `finally`) removes the lease. A lease whose instance died is never
released: it expires after settings.concurrency_lease_ttl_s, so a crash costs the user one slot for that
long at worst, never for good. With Redis down the cap is skipped (logged): it protects instances, and
the credit ledger still stops anyone spending what they do not have.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.errors import RateLimited

log = logging.getLogger("limits.concurrency")


class TooManyOpen(RateLimited):
    def __init__(self, kind: str, code: str, limit: int) -> None:
        super().__init__(
            f"You already have {limit} {kind} open, the most at once; close one (or wait for it to end) "
            "and try again.",
            code=code,
            headers={"Retry-After": "5"},
        )


@dataclass(frozen=True)
class Lease:
    key: str
    member: str


@dataclass(frozen=True)
class Cap:
    kind: str  # what the user reads: "chat streams"
    slug: str  # the Redis key's suffix
    code: str  # the error code past the cap
    limit: int


class Concurrency:
    def __init__(self, redis: Redis, lease_ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = lease_ttl_s

    async def acquire(self, cap: Cap, user_id: str) -> Lease | None:
        """A lease on one of the user's `cap.limit` slots (None when Redis is down); raises TooManyOpen."""
        lease = Lease(f"{{u:{user_id}}}:open:{cap.slug}", uuid.uuid4().hex)
        now = time.time()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(lease.key, "-inf", now)
                pipe.zadd(lease.key, {lease.member: now + self._ttl_s})
                pipe.zcard(lease.key)
                pipe.expire(lease.key, self._ttl_s)
                _, _, count, _ = await pipe.execute()
            if int(count) <= cap.limit:
                return lease
            await self._redis.zrem(lease.key, lease.member)
        except RedisError:
            log.warning("concurrency cap skipped: redis unavailable", extra={"cap": cap.slug}, exc_info=True)
            return None
        raise TooManyOpen(cap.kind, cap.code, cap.limit)

    async def release(self, lease: Lease | None) -> None:
        if lease is None:
            return
        try:
            with anyio.CancelScope(shield=True):  # a cancelled stream still frees its slot
                await self._redis.zrem(lease.key, lease.member)
        except RedisError:
            log.warning("lease not released: it expires on its own", extra={"key": lease.key}, exc_info=True)

    @asynccontextmanager
    async def hold(self, cap: Cap, user_id: str) -> AsyncIterator[Lease | None]:
        lease = await self.acquire(cap, user_id)
        try:
            yield lease
        finally:
            await self.release(lease)


@dataclass(frozen=True)
class OpenLimits:
    """The caps on what a user keeps open, with the counter they share (built in shared/bootstrap/api.py)."""

    concurrency: Concurrency
    streams: Cap
    speech: Cap
    job_events: Cap


async def released_after(
    body: AsyncIterable[Any], concurrency: Concurrency, lease: Lease | None
) -> AsyncIterator[Any]:
    """The same chunks, releasing the lease when the stream ends, fails or its client goes away."""
    try:
        async for chunk in body:
            yield chunk
    finally:
        await concurrency.release(lease)
