"""The brakes on the unauthenticated auth routes (issue 11, items 1 and 7), all in Redis:

- `throttle`: requests per minute per address on every auth route (the token buckets);
- `sign_up`: accounts created per hour per address and in all (fixed windows);
- `login_attempt` / `login_succeeded`: per-account backoff after failed passwords, keyed by a digest of
  the normalised email whether or not an account has it, so it neither tells which accounts exist nor
  lets many addresses guess one account's password quickly;
- `resend`: verification emails per hour per account.

An IPv6 address counts as its /64 (one customer's network). With Redis down, the routes that create an
account or a session fail closed (503 rate_limiter_unavailable); the others say so in their callers."""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import ids
from shared.auth.errors import LoginBackoff, RateLimiterUnavailable, TooManySignUps, TooManyVerificationEmails
from shared.errors import RateLimited
from shared.limits.ratelimit.buckets import Bucket, TokenBuckets
from shared.limits.ratelimit.service import RateLimitState
from shared.limits.ratelimit.windows import Counter, Windows
from shared.settings import Settings

log = logging.getLogger(__name__)

HOUR_S = 3600
KNOWN_NOTICES_PER_HOUR = 3  # "someone tried to create an account" emails to one address
T = TypeVar("T")

# KEYS[1] the account's record {f: attempts in the window, u: locked until, ms}. ARGV: free attempts,
# base wait ms, longest wait ms, window ms. Returns the wait in ms (0: this attempt may go ahead, and it
# is counted now, before the password is checked, so concurrent guesses cannot slip past the count).
_BACKOFF = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local u = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if u > now then return u - now end
local free, base, most, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
f = f + 1
local wait = 0
if f > free then wait = math.min(most, base * 2 ^ (f - free - 1)) end
redis.call('HSET', KEYS[1], 'f', f, 'u', now + wait)
redis.call('PEXPIRE', KEYS[1], math.floor(window + wait))
return 0
"""


def address_key(client_ip: str) -> str:
    """The address a limit counts: IPv4 as is, IPv6 as its /64 (an IPv4-mapped one as its IPv4)."""
    try:
        ip = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def account_key(email: str) -> str:
    """The backoff key of an email as typed (trimmed, lower case): the same for an unknown address."""
    return ids.sha256_hex(email.strip().lower())


def _seconds(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))


class AuthLimits:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._settings = settings
        self._buckets = TokenBuckets(redis)
        self._windows = Windows(redis)
        self._backoff = redis.register_script(_BACKOFF)
        self._redis = redis

    async def throttle(self, client_ip: str, *, fail_closed: bool = True) -> None:
        """Per-address requests per minute; raises RateLimited. Redis down: RateLimiterUnavailable when
        `fail_closed`, else allowed (refresh: a refresh token is 256 random bits, nothing to guess)."""
        bucket = Bucket(f"auth:ip:{address_key(client_ip)}", self._settings.auth_rate_per_minute, 1)
        try:
            taken = await self._buckets.take([bucket])
        except RedisError:
            if fail_closed:
                log.error("auth refused: rate limiter unavailable", exc_info=True)
                raise RateLimiterUnavailable() from None
            log.warning("auth rate limit skipped: redis unavailable", exc_info=True)
            return
        if not taken.allowed:
            seconds = _seconds(taken.retry_after_s)
            headers = RateLimitState(taken.states[0], None).headers()
            raise RateLimited(
                f"Too many sign-in attempts; retry in {seconds} s.",
                headers={**headers, "Retry-After": str(seconds)},
            )

    async def sign_up(self, client_ip: str) -> None:
        """One account more from this address (or /64) and in all, per hour; raises TooManySignUps."""
        s = self._settings
        address = Counter(f"signup:addr:{address_key(client_ip)}", s.signup_per_address_per_hour)
        wait = await self._closed(lambda: self._windows.hit([address], HOUR_S))
        if wait > 0:
            raise TooManySignUps(_seconds(wait), "from your network")
        wait = await self._closed(
            lambda: self._windows.hit([Counter("signup:all", s.signup_global_per_hour)], HOUR_S)
        )
        if wait > 0:
            log.warning("global sign-up limit reached", extra={"limit": s.signup_global_per_hour})
            raise TooManySignUps(_seconds(wait), "on this service")

    async def tell_owner(self, email: str) -> bool:
        """Whether the owner of a known address may be emailed about another sign-up attempt: at most
        KNOWN_NOTICES_PER_HOUR, so nobody can use sign-up to flood someone's inbox. Never raises: the
        answer to the sign-up must not change (Redis down: no email)."""
        counter = Counter(f"signup:known:{account_key(email)}", KNOWN_NOTICES_PER_HOUR)
        try:
            return await self._windows.hit([counter], HOUR_S) == 0
        except RedisError:
            log.warning("sign-up notice skipped: redis unavailable", exc_info=True)
            return False

    async def login_attempt(self, email: str) -> None:
        """Count a password attempt for this email, or raise LoginBackoff while it must wait."""
        s = self._settings
        args = [s.login_free_failures, int(s.login_backoff_base_s * 1000), int(s.login_backoff_max_s * 1000)]
        key = f"login:acct:{account_key(email)}"
        wait_ms = await self._closed(
            lambda: self._backoff(keys=[key], args=[*args, s.login_failure_window_s * 1000])
        )
        if int(wait_ms) > 0:
            log.info("login refused: account backoff", extra={"wait_ms": int(wait_ms)})
            raise LoginBackoff(_seconds(int(wait_ms) / 1000))

    async def login_succeeded(self, email: str) -> None:
        try:
            await self._redis.delete(f"login:acct:{account_key(email)}")
        except RedisError:
            log.warning("login backoff not reset: redis unavailable", exc_info=True)

    async def resend(self, user_id: str) -> None:
        counter = Counter(f"verify:resend:{user_id}", self._settings.verify_resend_per_hour)
        wait = await self._closed(lambda: self._windows.hit([counter], HOUR_S))
        if wait > 0:
            raise TooManyVerificationEmails(_seconds(wait))

    @staticmethod
    async def _closed(call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except RedisError:
            log.error("auth refused: rate limiter unavailable", exc_info=True)
            raise RateLimiterUnavailable() from None
