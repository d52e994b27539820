"""Rate-limit refusals: 429 with Retry-After and the X-RateLimit-* headers."""

from __future__ import annotations

from shared.errors import RateLimited


class RequestsRateLimited(RateLimited):
    code = "requests_per_minute_exceeded"


class TokensRateLimited(RateLimited):
    code = "tokens_per_minute_exceeded"
