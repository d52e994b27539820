"""Google's ID-token certificates, fetched through google-auth's transport and cached: the one adapter both
Google sign-in (shared/auth/google.py) and the functions' OIDC check (shared/adapters/oidc.py) verify with."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
CLOCK_SKEW_S = 10
_MAX_AGE = re.compile(r"max-age=(\d+)")


class CachingRequest:
    """A google-auth transport that remembers GET responses (the certs) for their max-age, at most max_ttl_s.
    Without it every sign-in would fetch Google's certs again."""

    def __init__(self, inner: Any, timeout_s: float = 5.0, max_ttl_s: float = 6 * 3600) -> None:
        self._inner = inner
        self._timeout_s = timeout_s
        self._max_ttl_s = max_ttl_s
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        timeout = timeout or self._timeout_s
        if method != "GET":
            return self._inner(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)
        with self._lock:
            cached = self._cache.get(url)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout, **kwargs)
        found = _MAX_AGE.search(str(response.headers.get("cache-control", "")))
        if response.status == 200 and found:
            ttl = min(float(found.group(1)), self._max_ttl_s)
            with self._lock:
                self._cache[url] = (time.monotonic() + ttl, response)
        return response
