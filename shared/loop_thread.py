"""One asyncio event loop per worker instance, in a background thread.

functions-framework serves requests on threads; the async clients (Firestore, Cloud Tasks) belong to
the loop that built them, so they are built once, here, and every request runs its coroutine on this
loop and waits for the answer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from shared.logs import configure_logging
from shared.settings import Settings, get_settings
from shared.telemetry.error_reports import configure_error_reports
from shared.telemetry.metrics import configure_metrics
from shared.telemetry.tracing import configure_tracing

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="instance-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class Once(Generic[T]):
    """A function instance's one object (its loop and services), built on the first request, under a lock:
    functions-framework serves requests on several threads. Logging is configured before it is built."""

    def __init__(self, build: Callable[[Settings], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                settings = get_settings()
                configure_logging(settings.log_level)
                configure_tracing(settings)
                configure_metrics(settings)
                configure_error_reports(settings)
                self._value = self._build(settings)
            return self._value


class Served(Generic[T]):
    """Services built once in an instance's own event loop, and the loop that runs requests on them."""

    def __init__(self, settings: Settings, build: Callable[[Settings], T]) -> None:
        self.settings = settings
        self.loop = LoopThread()
        self.services: T = self.loop.run(_in_loop(build, settings))


async def _in_loop(build: Callable[[Settings], T], settings: Settings) -> T:
    """gRPC clients belong to the loop they are made in: build them there."""
    return build(settings)
