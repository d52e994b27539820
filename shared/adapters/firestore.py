"""The one place that builds Firestore clients.

FIRESTORE_EMULATOR_HOST, when set, points them at the emulator.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.api_core.exceptions import Aborted
from google.cloud import firestore

from shared.errors import AppError
from shared.settings import Settings

T = TypeVar("T")


def async_client(settings: Settings) -> firestore.AsyncClient:
    return firestore.AsyncClient(project=settings.gcp_project)


async def close_client(db: firestore.AsyncClient) -> None:
    """Close an async client and its gRPC channel, while the event loop that owns the channel runs.

    AsyncClient.close() leaves the channel open, and the client has no public way to close it: this is the
    one place that reaches for the transport, so a client upgrade that adds one changes only this."""
    db.close()
    await db._firestore_api.transport.close()


def sync_client(settings: Settings) -> firestore.Client:
    return firestore.Client(project=settings.gcp_project)


# The client retries an aborted commit itself, at once and keeping its place in line (TX_ATTEMPTS);
# an aborted read (a wounded transaction, or the emulator's "lock timeout") escapes it, and so does a
# commit that keeps losing. Both are retried here with full-jitter exponential backoff for up to
# `give_up_s` seconds: the emulator, unlike production, does not honour the place in line, and
# retrying at once livelocks it.
TX_ATTEMPTS = 5
BACKOFF_BASE = 0.05
BACKOFF_CAP = 2.0


class TransactionBusy(AppError):
    """A transaction kept aborting for `give_up_s` seconds; nothing was applied, retrying is safe."""

    status = 503
    type = "api_error"
    code = "busy"

    def __init__(self) -> None:
        super().__init__("This record is being updated by many requests at once; retry in a moment.")


async def run_transaction(
    db: firestore.AsyncClient, body: Callable[[Any], Awaitable[T]], give_up_s: float
) -> T:
    """Run `body(transaction)` until it commits. It may run several times: Firestore I/O only."""
    give_up = time.monotonic() + give_up_s
    attempt = 0
    while True:
        transaction = db.transaction(max_attempts=TX_ATTEMPTS)
        try:
            result: T = await firestore.async_transactional(body)(transaction)
            return result
        except Aborted as exc:
            cause: Exception = exc
        except ValueError as exc:
            if not isinstance(exc.__cause__, Aborted):  # the client gave up after TX_ATTEMPTS commits
                raise
            cause = exc
        pause = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        if time.monotonic() + pause > give_up:
            raise TransactionBusy() from cause
        attempt += 1
        await asyncio.sleep(pause)
