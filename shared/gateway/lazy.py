"""litellm, imported on first need rather than at start-up.

`import litellm` takes about 2.75 s of CPU on our machines, more than the rest of the API's start-up
together, and the native lane (OpenAI-wire providers, shared/gateway/native/) never needs it. So nothing
imports it at module level: a translated provider's call, media, speech, transcription, embeddings and
moderation call `litellm()` when they run, and `warm_in_background()` (started by the API once its port
is open, when LITELLM_WARMUP and shared/bootstrap/warmup.py say so) imports it in a daemon thread so that
the first such call rarely pays it.

`loaded_exceptions()` is for the error classifiers: while litellm is not imported no exception can be
one of its classes, so they skip those checks without importing it.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import time
from types import ModuleType

import anyio.to_thread

log = logging.getLogger("gateway.lazy")

_lock = threading.Lock()
_module: ModuleType | None = None


def litellm() -> ModuleType:
    """The litellm module, imported and configured on the first call (thread-safe, once)."""
    module = _module
    if module is not None:
        return module
    return _load()


def _load() -> ModuleType:
    global _module
    with _lock:
        if _module is not None:
            return _module
        started = time.perf_counter()
        # shared/gateway/__init__.py has set LITELLM_LOCAL_MODEL_COST_MAP: no price map from the network.
        module = importlib.import_module("litellm")
        for name, value in (("suppress_debug_info", True), ("drop_params", True), ("telemetry", False)):
            setattr(module, name, value)
        _module = module
        log.info("litellm imported", extra={"seconds": round(time.perf_counter() - started, 3)})
        return module


async def load_litellm() -> ModuleType:
    """litellm for a coroutine: when it still has to be imported (or the warm-up is importing it), that
    happens in a worker thread, so the event loop keeps serving other requests meanwhile."""
    module = _module
    if module is not None:
        return module
    return await anyio.to_thread.run_sync(_load)


def is_loaded() -> bool:
    return _module is not None


# The classes of litellm's exceptions module that the classifiers test.
_EXCEPTIONS = (
    "MidStreamFallbackError",
    "Timeout",
    "ContextWindowExceededError",
    "ContentPolicyViolationError",
    "RateLimitError",
    "AuthenticationError",
    "PermissionDeniedError",
    "BadRequestError",
    "ServiceUnavailableError",
)


def loaded_exceptions() -> ModuleType | None:
    """litellm's exceptions module once it is imported (by us or anyone) and complete, else None: an
    import still running in the warm-up thread has the module in sys.modules before its classes."""
    module = sys.modules.get("litellm.exceptions")
    if module is None or not all(hasattr(module, name) for name in _EXCEPTIONS):
        return None
    return module


class _NeverRaised(Exception):
    """Stands in for an SDK class that is not imported: nothing is an instance of it."""


def loaded_sdk_errors() -> tuple[type[BaseException], type[BaseException]]:
    """The OpenAI SDK's (APITimeoutError, APIConnectionError) once the SDK is imported (litellm and
    shared/gateway/openai_sdk.py import it), else a class nothing raises for both."""
    sdk = sys.modules.get("openai")
    timeout = getattr(sdk, "APITimeoutError", None)
    connection = getattr(sdk, "APIConnectionError", None)
    if isinstance(timeout, type) and isinstance(connection, type):
        return timeout, connection
    return _NeverRaised, _NeverRaised


def warm_in_background() -> threading.Thread | None:
    """Import litellm in a daemon thread (None when it is already imported). A failure is logged, not
    raised: the first call that needs litellm imports it again and reports the error to its caller."""
    if is_loaded():
        return None

    def warm() -> None:
        try:
            _load()
        except Exception:
            log.exception("litellm warm-up failed")

    thread = threading.Thread(target=warm, name="litellm-warmup", daemon=True)
    thread.start()
    return thread
